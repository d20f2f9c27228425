package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/spec"
)

// FieldManager is the server-side apply field manager of every object
// Berth writes.
const FieldManager = "berth"

// Labels on every object Berth writes. Selection and pruning go by
// LabelManagedBy, so objects of anyone else are never touched.
const (
	LabelManagedBy = "app.kubernetes.io/managed-by"
	ManagedByBerth = "berth"
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelVersion   = "app.kubernetes.io/version"

	LabelApp      = "berth.dev/app"
	LabelService  = "berth.dev/service"
	LabelRelease  = "berth.dev/release"
	LabelWorkload = "berth.dev/workload"

	// AnnotationWorkloadID holds the workload's ID unshortened (the label
	// and object names may be shortened to 63 characters).
	AnnotationWorkloadID = "berth.dev/workload-id"
	// AnnotationTemplateHash changes whenever the env does, so a changed
	// ConfigMap or Secret rolls the pods (they read env only at start).
	AnnotationTemplateHash = "berth.dev/config-hash"
	// AnnotationReplicas is the instance count Berth asked for, on the
	// Deployment of an autoscaled workload (whose spec.replicas is the
	// HorizontalPodAutoscaler's).
	AnnotationReplicas = "berth.dev/replicas"
)

// maxName is the longest DNS-1035 label (Service names are the strictest).
const maxName = 63

// objectName turns a workload ID (or any name built from DNS labels) into
// a valid object name: unchanged when it fits, else cut and suffixed with
// a hash of the whole so two long IDs never share a name.
func objectName(s string) string {
	if len(s) <= maxName {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	h := hex.EncodeToString(sum[:])[:10]
	head := strings.TrimRight(s[:maxName-len(h)-1], "-")
	return head + "-" + h
}

// labelValue shortens a value the same way (label values are at most 63).
func labelValue(s string) string { return objectName(s) }

// workloadLabels are the labels of every object of a workload; the
// selector uses only LabelWorkload and LabelManagedBy, which never change.
func workloadLabels(app, service string, release int, id string) map[string]string {
	return map[string]string{
		LabelManagedBy: ManagedByBerth,
		LabelName:      labelValue(service),
		LabelInstance:  labelValue(id),
		LabelComponent: labelValue(service),
		LabelPartOf:    labelValue(app),
		LabelVersion:   "r" + strconv.Itoa(release),
		LabelApp:       labelValue(app),
		LabelService:   labelValue(service),
		LabelRelease:   strconv.Itoa(release),
		LabelWorkload:  labelValue(id),
	}
}

func selectorLabels(id string) map[string]string {
	return map[string]string{LabelManagedBy: ManagedByBerth, LabelWorkload: labelValue(id)}
}

// volumeClaimName is the claim of a service's volume, shared by all its
// releases: data outlives releases.
func volumeClaimName(app, service, volume string) string {
	return objectName(app + "-" + service + "-" + volume)
}

// ObjectName is the name of the Deployment and Service of a workload (and
// of any object named after Berth's names): id itself, or cut with a hash
// when longer than a Service name may be.
func ObjectName(id string) string { return objectName(id) }

// MainPort is the Service port of a workload of service s: the first
// declared port, else DefaultPort.
func MainPort(s spec.Service) int { return mainPort(s) }
