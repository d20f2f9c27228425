package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	autoscalingv2ac "k8s.io/client-go/applyconfigurations/autoscaling/v2"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	policyv1ac "k8s.io/client-go/applyconfigurations/policy/v1"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// DefaultPort is the port a service without declared ports is told to
// listen on ($PORT), as on the local runtime where PORT is always set.
const DefaultPort = 8080

// DefaultVolumeSize is a volume's claim when the spec gives no size.
const DefaultVolumeSize = "1Gi"

const containerName = "app"

// ConfigDir is where a container finds the config set's files
// (BERTH_CONFIG_DIR), from a ConfigMap volume.
const ConfigDir = "/etc/berth/config"

const configVolume = "berth-config"

// podLabels label the pods: those of the workload, with the release that
// started them. A live config reload changes the workload's Release but
// not its pods' template, or the Deployment would roll them.
func podLabels(w runtime.Workload) map[string]string {
	rel := w.Release
	if w.InstancesOf != 0 {
		rel = w.InstancesOf
	}
	return workloadLabels(w.App, w.Service, rel, w.ID)
}

// objects is what one workload becomes on the cluster. Service, Secret,
// ConfigMap and PDB are nil when the workload does not need them; Apply
// prunes the ones that exist but are no longer wanted.
type objects struct {
	id         string
	name       string
	deployment *appsv1ac.DeploymentApplyConfiguration
	service    *corev1ac.ServiceApplyConfiguration
	configMap  *corev1ac.ConfigMapApplyConfiguration
	files      *corev1ac.ConfigMapApplyConfiguration // config set files
	secret     *corev1ac.SecretApplyConfiguration
	// appSecrets holds the values of the app's secrets the service names:
	// a Secret of their own, which status never reads (the env Secret's
	// values are shown there).
	appSecrets *corev1ac.SecretApplyConfiguration
	pdb        *policyv1ac.PodDisruptionBudgetApplyConfiguration
	hpa        *autoscalingv2ac.HorizontalPodAutoscalerApplyConfiguration
	claims     []*corev1ac.PersistentVolumeClaimApplyConfiguration
}

// namedPort is a container port with the name Berth gives it.
type namedPort struct {
	name string
	port int
}

// namedPorts are the service's declared ports, named as declared or
// "main" (the first) and "p<port>"; a service that declares none listens
// on DefaultPort, named "main".
func namedPorts(s spec.Service) []namedPort {
	if len(s.Ports) == 0 {
		return []namedPort{{name: "main", port: mainPort(s)}}
	}
	out := make([]namedPort, 0, len(s.Ports))
	for i, p := range s.Ports {
		name := p.Name
		if name == "" {
			name = "p" + strconv.Itoa(p.Port)
			if i == 0 {
				name = "main"
			}
		}
		out = append(out, namedPort{name: name, port: p.Port})
	}
	return out
}

// servicePorts are a Service's ports for the service's ports. A workload's
// Service targets its pods' port numbers; the address Service (byName)
// targets them by name, since it also selects pods of other releases.
func servicePorts(s spec.Service, byName bool) []*corev1ac.ServicePortApplyConfiguration {
	var out []*corev1ac.ServicePortApplyConfiguration
	for _, p := range namedPorts(s) {
		target := intstr.FromInt32(int32(p.port))
		if byName {
			target = intstr.FromString(p.name)
		}
		out = append(out, corev1ac.ServicePort().WithName(p.name).WithPort(int32(p.port)).
			WithTargetPort(target).WithProtocol(corev1.ProtocolTCP))
	}
	return out
}

// mainPort is the port $PORT names and instances are reached on.
func mainPort(s spec.Service) int {
	if len(s.Ports) > 0 && s.Ports[0].Port > 0 {
		return s.Ports[0].Port
	}
	return DefaultPort
}

// translate turns a workload into the objects that run it in namespace ns.
// It reads nothing from the cluster, so the same workload always gives
// the same objects (and applying them twice changes nothing).
func translate(w runtime.Workload, ns, storageClass string) (*objects, error) {
	if w.ID == "" || w.App == "" || w.Service == "" {
		return nil, fmt.Errorf("%w: id, app and service are required (got id %q, app %q, service %q)", ErrInvalidWorkload, w.ID, w.App, w.Service)
	}
	if w.Spec.Image == "" {
		return nil, fmt.Errorf("service %q of app %q: %w: a Kubernetes cluster runs images; set services.%s.image in berth.yaml (or deploy it to a local environment)",
			w.Service, w.App, ErrNoImage, w.Service)
	}
	if w.Replicas < 0 {
		return nil, fmt.Errorf("%w: workload %s: replicas must be 0 or more, got %d", ErrInvalidWorkload, w.ID, w.Replicas)
	}
	name := objectName(w.ID)
	labels := workloadLabels(w.App, w.Service, w.Release, w.ID)
	annotations := map[string]string{AnnotationWorkloadID: w.ID}
	o := &objects{id: w.ID, name: name}

	port := mainPort(w.Spec)
	container := corev1ac.Container().
		WithName(containerName).
		WithImage(w.Spec.Image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithEnv(corev1ac.EnvVar().WithName("PORT").WithValue(strconv.Itoa(port)),
			corev1ac.EnvVar().WithName("BERTH_INSTANCE").WithValueFrom(
				corev1ac.EnvVarSource().WithFieldRef(corev1ac.ObjectFieldSelector().WithFieldPath("metadata.name")))).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).
			WithPrivileged(false).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	if len(w.Spec.Command) > 0 {
		container.WithCommand(w.Spec.Command...)
	}
	if len(w.Spec.Args) > 0 {
		container.WithArgs(w.Spec.Args...)
	}
	for _, p := range namedPorts(w.Spec) {
		container.WithPorts(corev1ac.ContainerPort().WithName(p.name).WithContainerPort(int32(p.port)).WithProtocol(corev1.ProtocolTCP))
	}
	o.service = corev1ac.Service(name, ns).WithLabels(labels).WithAnnotations(annotations).
		WithSpec(corev1ac.ServiceSpec().WithType(corev1.ServiceTypeClusterIP).
			WithSelector(selectorLabels(w.ID)).WithPorts(servicePorts(w.Spec, false)...))

	// Declared env goes in a ConfigMap; the env Berth adds (addresses,
	// and later credentials) in a Secret, so it is never in a plain object.
	if len(w.Spec.Env) > 0 {
		o.configMap = corev1ac.ConfigMap(name+"-env", ns).WithLabels(labels).WithAnnotations(annotations).WithData(w.Spec.Env)
		container.WithEnvFrom(corev1ac.EnvFromSource().WithConfigMapRef(corev1ac.ConfigMapEnvSource().WithName(name + "-env")))
	}
	if len(w.Env) > 0 {
		o.secret = corev1ac.Secret(name+"-berth-env", ns).WithLabels(labels).WithAnnotations(annotations).
			WithType(corev1.SecretTypeOpaque).WithStringData(w.Env)
		container.WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(name + "-berth-env")))
	}
	// Last, so a secret wins over a declared variable of the same name, as
	// on the local runtime. A changed value comes with a new release, so a
	// new Deployment: the values need not be in the template's hash (a
	// hash of a secret in a pod annotation would help guess it).
	if len(w.Secrets) > 0 {
		o.appSecrets = corev1ac.Secret(name+"-secrets", ns).WithLabels(labels).WithAnnotations(annotations).
			WithType(corev1.SecretTypeOpaque).WithStringData(w.Secrets)
		container.WithEnvFrom(corev1ac.EnvFromSource().WithSecretRef(corev1ac.SecretEnvSource().WithName(name + "-secrets")))
	}

	if err := setResources(container, w); err != nil {
		return nil, err
	}
	if h := w.Spec.Health; h != nil {
		ready, live := probes(h, port)
		container.WithReadinessProbe(ready).WithLivenessProbe(live)
	}

	pod := corev1ac.PodSpec().
		WithAutomountServiceAccountToken(false).
		WithEnableServiceLinks(false).
		WithSecurityContext(corev1ac.PodSecurityContext().
			WithRunAsNonRoot(true).
			WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault)))
	if g := time.Duration(w.Spec.StopGracePeriod); g > 0 {
		pod.WithTerminationGracePeriodSeconds(int64((g + time.Second - 1) / time.Second))
	}
	for _, v := range w.Spec.Volumes {
		claim := volumeClaimName(w.App, w.Service, v.Name)
		size := v.Size
		if size == "" {
			size = DefaultVolumeSize
		}
		q, err := resource.ParseQuantity(size)
		if err != nil {
			return nil, fmt.Errorf("%w: services.%s.volumes.%s.size: %q is not a quantity: %w", ErrInvalidWorkload, w.Service, v.Name, v.Size, err)
		}
		volLabels := workloadLabels(w.App, w.Service, w.Release, w.ID)
		// A claim belongs to the service, not to one release.
		delete(volLabels, LabelWorkload)
		delete(volLabels, LabelRelease)
		delete(volLabels, LabelVersion)
		delete(volLabels, LabelInstance)
		pvc := corev1ac.PersistentVolumeClaim(claim, ns).WithLabels(volLabels).
			WithSpec(corev1ac.PersistentVolumeClaimSpec().
				WithAccessModes(corev1.ReadWriteOnce).
				WithResources(corev1ac.VolumeResourceRequirements().WithRequests(corev1.ResourceList{corev1.ResourceStorage: q})))
		if storageClass != "" {
			pvc.Spec.WithStorageClassName(storageClass)
		}
		o.claims = append(o.claims, pvc)
		pod.WithVolumes(corev1ac.Volume().WithName(v.Name).
			WithPersistentVolumeClaim(corev1ac.PersistentVolumeClaimVolumeSource().WithClaimName(claim)))
		container.WithVolumeMounts(corev1ac.VolumeMount().WithName(v.Name).WithMountPath(v.Path))
	}
	if len(w.Files) > 0 || w.Spec.ReloadsLive() {
		o.files = corev1ac.ConfigMap(name+"-files", ns).WithLabels(labels).WithAnnotations(annotations).WithData(w.Files)
		// The kubelet refreshes a ConfigMap volume in place (not one
		// mounted with subPath), which is what lets a live reload change
		// the files without a new pod.
		pod.WithVolumes(corev1ac.Volume().WithName(configVolume).
			WithConfigMap(corev1ac.ConfigMapVolumeSource().WithName(name + "-files")))
		container.WithVolumeMounts(corev1ac.VolumeMount().WithName(configVolume).WithMountPath(ConfigDir).WithReadOnly(true))
		container.WithEnv(corev1ac.EnvVar().WithName(spec.EnvConfigDir).WithValue(ConfigDir))
	}
	pod.WithContainers(container)

	dspec := appsv1ac.DeploymentSpec().WithRevisionHistoryLimit(5)
	dannotations := annotations
	if a := w.Spec.Autoscale; a != nil && w.Replicas > 0 {
		// The HPA owns spec.replicas: Berth does not apply the field at
		// all, so server-side apply never takes it back. What Berth asked
		// for (the HPA's minimum) is kept in an annotation for Status.
		dannotations = map[string]string{AnnotationWorkloadID: w.ID, AnnotationReplicas: strconv.Itoa(w.Replicas)}
		o.hpa = autoscalingv2ac.HorizontalPodAutoscaler(name, ns).WithLabels(labels).WithAnnotations(annotations).
			WithSpec(autoscalingv2ac.HorizontalPodAutoscalerSpec().
				WithScaleTargetRef(autoscalingv2ac.CrossVersionObjectReference().
					WithAPIVersion("apps/v1").WithKind("Deployment").WithName(name)).
				WithMinReplicas(int32(w.Replicas)).
				WithMaxReplicas(int32(max(a.Max, w.Replicas))).
				WithMetrics(autoscalingv2ac.MetricSpec().WithType(autoscalingv2.ResourceMetricSourceType).
					WithResource(autoscalingv2ac.ResourceMetricSource().WithName(corev1.ResourceCPU).
						WithTarget(autoscalingv2ac.MetricTarget().WithType(autoscalingv2.UtilizationMetricType).
							WithAverageUtilization(int32(a.CPU))))))
	} else {
		dspec.WithReplicas(int32(w.Replicas))
	}
	o.deployment = appsv1ac.Deployment(name, ns).WithLabels(labels).WithAnnotations(dannotations).
		WithSpec(dspec.
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(w.ID))).
			// Never below the wanted count while pods are replaced.
			WithStrategy(appsv1ac.DeploymentStrategy().WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxSurge(intstr.FromString("25%")).WithMaxUnavailable(intstr.FromInt32(0)))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(podLabels(w)).
				WithAnnotations(map[string]string{AnnotationWorkloadID: w.ID, AnnotationTemplateHash: envHash(w)}).
				WithSpec(pod)))

	if w.Replicas >= 2 {
		o.pdb = policyv1ac.PodDisruptionBudget(name, ns).WithLabels(labels).WithAnnotations(annotations).
			WithSpec(policyv1ac.PodDisruptionBudgetSpec().
				WithMaxUnavailable(intstr.FromInt32(1)).
				WithSelector(metav1ac.LabelSelector().WithMatchLabels(selectorLabels(w.ID))))
	}
	return o, nil
}

// setResources sets limits and equal requests, so the scheduler reserves
// what the instance may use (Guaranteed QoS when both are set).
func setResources(c *corev1ac.ContainerApplyConfiguration, w runtime.Workload) error {
	list := corev1.ResourceList{}
	for _, r := range []struct {
		field, value string
		name         corev1.ResourceName
	}{
		{"cpu", w.Spec.Resources.CPU, corev1.ResourceCPU},
		{"memory", w.Spec.Resources.Memory, corev1.ResourceMemory},
	} {
		if r.value == "" {
			continue
		}
		q, err := resource.ParseQuantity(r.value)
		if err != nil {
			return fmt.Errorf("%w: services.%s.resources.%s: %q is not a quantity: %w", ErrInvalidWorkload, w.Service, r.field, r.value, err)
		}
		list[r.name] = q
	}
	if len(list) > 0 {
		c.WithResources(corev1ac.ResourceRequirements().WithLimits(list).WithRequests(list))
	}
	return nil
}

// probes turns a health check into a readiness probe (as declared) and a
// liveness probe on the same check, three times as patient, so a hung
// instance is restarted but a briefly failing one is only taken out of
// traffic.
func probes(h *spec.Health, port int) (ready, live *corev1ac.ProbeApplyConfiguration) {
	mk := func() *corev1ac.ProbeApplyConfiguration {
		p := corev1ac.Probe()
		switch {
		case h.HTTP != nil:
			pp := h.HTTP.Port
			if pp == 0 {
				pp = port
			}
			path := h.HTTP.Path
			if path == "" {
				path = "/"
			}
			p.WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromInt32(int32(pp))))
		case h.TCP != nil:
			pp := h.TCP.Port
			if pp == 0 {
				pp = port
			}
			p.WithTCPSocket(corev1ac.TCPSocketAction().WithPort(intstr.FromInt32(int32(pp))))
		case h.Exec != nil:
			p.WithExec(corev1ac.ExecAction().WithCommand(h.Exec.Command...))
		}
		if d := seconds(time.Duration(h.InitialDelay)); d > 0 {
			p.WithInitialDelaySeconds(d)
		}
		p.WithPeriodSeconds(max(1, seconds(time.Duration(h.Interval))))
		p.WithTimeoutSeconds(max(1, seconds(time.Duration(h.Timeout))))
		return p
	}
	fail := int32(max(1, h.FailureThreshold))
	ready = mk().WithFailureThreshold(fail).WithSuccessThreshold(int32(max(1, h.SuccessThreshold)))
	live = mk().WithFailureThreshold(3 * fail).WithSuccessThreshold(1)
	return ready, live
}

// seconds rounds up: Kubernetes probes count in whole seconds.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	return int32((d + time.Second - 1) / time.Second)
}

// envHash fingerprints the env the pods start with.
func envHash(w runtime.Workload) string {
	b, _ := json.Marshal([]map[string]string{w.Spec.Env, w.Env}) // maps of strings always marshal
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Objects returns the apply configurations Apply would write for w in
// namespace ns (volume claims first, as Apply creates them), each
// marshalling to a whole object with its apiVersion and kind: what
// `kubectl apply --server-side` of the same workload would send (the
// Kubernetes benchmark compares the two).
func Objects(w runtime.Workload, ns, storageClass string) ([]any, error) {
	o, err := translate(w, ns, storageClass)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, c := range o.claims {
		out = append(out, c)
	}
	if o.configMap != nil {
		out = append(out, o.configMap)
	}
	if o.secret != nil {
		out = append(out, o.secret)
	}
	if o.appSecrets != nil {
		out = append(out, o.appSecrets)
	}
	// The address Service of w's service (address.go) as w declares it.
	out = append(out, o.deployment, o.service, addressService(w, ns))
	if o.pdb != nil {
		out = append(out, o.pdb)
	}
	if o.hpa != nil {
		out = append(out, o.hpa)
	}
	return out, nil
}
