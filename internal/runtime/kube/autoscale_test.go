package kube

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/spec"
)

// TestTranslateAutoscale: an autoscaled workload gets an autoscaling/v2
// HPA from its replicas (the minimum) to autoscale.max on CPU, and its
// Deployment declares no replicas, so server-side apply leaves the field
// to the HPA.
func TestTranslateAutoscale(t *testing.T) {
	t.Parallel()
	w := webWorkload(1, 2)
	w.Spec.Resources.CPU = "500m"
	w.Spec.Autoscale = &spec.Autoscale{Min: 2, Max: 10, CPU: 70}
	o, err := translate(w, "ns", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.deployment.Spec.Replicas != nil || o.deployment.Annotations[AnnotationReplicas] != "2" {
		t.Errorf("deployment replicas %v annotations %v", o.deployment.Spec.Replicas, o.deployment.Annotations)
	}
	b, _ := json.Marshal(o.hpa)
	var h autoscalingv2.HorizontalPodAutoscaler
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	m := h.Spec.Metrics
	if h.Name != "shop-web-r1" || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 10 || h.Spec.ScaleTargetRef.Name != "shop-web-r1" ||
		h.Spec.ScaleTargetRef.Kind != "Deployment" || len(m) != 1 || m[0].Resource.Name != "cpu" || *m[0].Resource.Target.AverageUtilization != 70 {
		t.Errorf("hpa %+v", h.Spec)
	}
	// Stopped (0 replicas): no HPA (its minimum is at least 1), replicas 0.
	w.Replicas = 0
	if o, _ = translate(w, "ns", ""); o.hpa != nil || o.deployment.Spec.Replicas == nil || *o.deployment.Spec.Replicas != 0 {
		t.Errorf("stopped: hpa %v replicas %v", o.hpa, o.deployment.Spec.Replicas)
	}
}

// TestAutoscaleOnCluster: on a real control plane the HPA appears; a
// scale by the HPA (here by hand, as kwok has no metrics) is not taken
// back, however often Berth applies; Status reports what Berth asked; and
// the HPA is pruned when the workload stops autoscaling.
func TestAutoscaleOnCluster(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 2)
	w.Spec.Resources.CPU = "100m"
	w.Spec.Autoscale = &spec.Autoscale{Min: 2, Max: 6, CPU: 70}
	mustApply(t, rt, w)
	waitReady(t, rt, w.ID, 2)
	ctx := ctxFor(t, 30*time.Second)
	h, err := rt.client.AutoscalingV2().HorizontalPodAutoscalers(rt.Namespace()).Get(ctx, "shop-web-r1", metav1.GetOptions{})
	if err != nil || *h.Spec.MinReplicas != 2 || h.Spec.MaxReplicas != 6 {
		t.Fatalf("hpa %+v %v", h, err)
	}
	d, err := rt.client.AppsV1().Deployments(rt.Namespace()).Get(ctx, "shop-web-r1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ownsReplicas(d) {
		t.Error("berth owns the Deployment's spec.replicas of an autoscaled workload")
	}
	// The HPA's part, played by hand: scale to 4. Drift repair re-applies
	// (the generation moved) and an Apply comes too: neither takes it back.
	kubectl(t, c, rt, "scale", "deployment", "shop-web-r1", "--replicas", "4")
	mustApply(t, rt, w)
	eventually(t, "4 pods kept", func() string {
		ws, err := rt.Status(ctx, w.ID)
		if err != nil {
			return err.Error()
		}
		if len(ws.Instances) != 4 || ws.Ready != 4 || ws.Replicas != 2 || !strings.Contains(ws.Autoscale, "HorizontalPodAutoscaler") {
			return describe(ws) + " autoscale " + ws.Autoscale
		}
		return ""
	})
	time.Sleep(2 * time.Second) // let a repair pass run, if one were to take it back
	if got := kubectl(t, c, rt, "get", "deployment", "shop-web-r1", "-o", "jsonpath={.spec.replicas}"); got != "4" {
		t.Errorf("replicas after repair %s, want the HPA's 4", got)
	}
	// No longer autoscaled: pruned.
	w.Spec.Autoscale = nil
	mustApply(t, rt, w)
	if _, err := rt.client.AutoscalingV2().HorizontalPodAutoscalers(rt.Namespace()).Get(ctx, "shop-web-r1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("hpa after autoscale removed: %v", err)
	}
	waitReady(t, rt, w.ID, 2)
}

func ownsReplicas(d *appsv1.Deployment) bool {
	for _, f := range d.ManagedFields {
		if f.Manager == FieldManager && f.FieldsV1 != nil && strings.Contains(f.FieldsV1.GetRawString(), `"f:replicas"`) {
			return true
		}
	}
	return false
}
