package clusterroute

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	metav1ac "k8s.io/client-go/applyconfigurations/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/store"
)

var applyOpts = metav1.ApplyOptions{FieldManager: kube.FieldManager, Force: true}

// gatewayUID is the user the gateway runs as: the image's user berth
// (internal/ociimage), never root.
const gatewayUID = 65532

// tokenKey is the key of the gateway Secret that holds its API token.
const tokenKey = "token"

// gatewayConfig is what the gateway's objects are made from.
type gatewayConfig struct {
	env       store.Environment
	image     string
	server    string // the control plane's API URL, as the pods reach it
	replicas  int32
	tokenHash string // rolls the pods when the token changes
	tls       tlsState
}

// gatewayDeployment runs `berth gateway --env NAME`, reading its token
// from the Secret. Readiness is the gateway's /readyz (a table is
// served), so the Service sends traffic only to gateways that route.
func gatewayDeployment(c gatewayConfig) *appsv1ac.DeploymentApplyConfiguration {
	labels := gatewayLabels(c.env.Name)
	sel := map[string]string{kube.LabelManagedBy: kube.ManagedByBerth, LabelRole: RoleGateway, LabelEnv: c.env.Name}
	probe := func(path string, failures int32) *corev1ac.ProbeApplyConfiguration {
		return corev1ac.Probe().WithHTTPGet(corev1ac.HTTPGetAction().WithPath(path).WithPort(intstr.FromString("metrics"))).
			WithPeriodSeconds(5).WithTimeoutSeconds(2).WithFailureThreshold(failures)
	}
	resources := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}
	args := []string{"gateway", "--server", c.server, "--env", c.env.Name,
		"--listen", ":" + strconv.Itoa(gatewayPort), "--metrics-listen", ":" + strconv.Itoa(metricsPort),
		"--state-file", "-", "--access-log", "-"}
	ports := []*corev1ac.ContainerPortApplyConfiguration{
		corev1ac.ContainerPort().WithName("http").WithContainerPort(gatewayPort).WithProtocol(corev1.ProtocolTCP),
		corev1ac.ContainerPort().WithName("metrics").WithContainerPort(metricsPort).WithProtocol(corev1.ProtocolTCP)}
	annotations := map[string]string{"berth.dev/token-hash": c.tokenHash}
	pod := corev1ac.PodSpec()
	psc := corev1ac.PodSecurityContext().
		WithRunAsNonRoot(true).WithRunAsUser(gatewayUID).
		WithSeccompProfile(corev1ac.SeccompProfile().WithType(corev1.SeccompProfileTypeRuntimeDefault))
	https := len(c.tls.Served) > 0
	if https {
		args = append(args, "--tls-listen", ":"+strconv.Itoa(tlsPort), "--cert-dir", certDir)
		ports = append(ports, corev1ac.ContainerPort().WithName("https").WithContainerPort(tlsPort).WithProtocol(corev1.ProtocolTCP))
		annotations[annotationTLS] = c.tls.digest()
		pod.WithVolumes(tlsVolumeOf(c.tls))
		psc.WithFSGroup(gatewayUID) // the keys are the gateway's group's alone (mode 0440)
	}
	container := corev1ac.Container().
		WithName("gateway").
		WithImage(c.image).
		WithImagePullPolicy(corev1.PullIfNotPresent).
		WithArgs(args...).
		WithEnv(corev1ac.EnvVar().WithName("BERTH_TOKEN").WithValueFrom(corev1ac.EnvVarSource().WithSecretKeyRef(
			corev1ac.SecretKeySelector().WithName(GatewayName).WithKey(tokenKey)))).
		WithPorts(ports...).
		WithReadinessProbe(probe("/readyz", 1)).
		WithLivenessProbe(probe("/healthz", 6)).
		WithResources(corev1ac.ResourceRequirements().WithRequests(resources).WithLimits(corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")})).
		WithSecurityContext(corev1ac.SecurityContext().
			WithAllowPrivilegeEscalation(false).WithPrivileged(false).WithReadOnlyRootFilesystem(true).
			WithCapabilities(corev1ac.Capabilities().WithDrop("ALL")))
	if https {
		container.WithVolumeMounts(corev1ac.VolumeMount().WithName(tlsVolume).WithMountPath(certDir).WithReadOnly(true))
	}
	return appsv1ac.Deployment(GatewayName, c.env.Namespace).WithLabels(labels).
		WithSpec(appsv1ac.DeploymentSpec().
			WithReplicas(c.replicas).
			WithRevisionHistoryLimit(3).
			WithSelector(metav1ac.LabelSelector().WithMatchLabels(sel)).
			WithStrategy(appsv1ac.DeploymentStrategy().WithType("RollingUpdate").
				WithRollingUpdate(appsv1ac.RollingUpdateDeployment().
					WithMaxSurge(intstr.FromInt32(1)).WithMaxUnavailable(intstr.FromInt32(0)))).
			WithTemplate(corev1ac.PodTemplateSpec().
				WithLabels(labels).
				WithAnnotations(annotations).
				WithSpec(pod.
					WithAutomountServiceAccountToken(false).
					WithEnableServiceLinks(false).
					WithTerminationGracePeriodSeconds(15). // the gateway drains for up to 10 s
					WithSecurityContext(psc).
					WithContainers(container))))
}

// tlsVolumeOf projects every served Secret into one directory, each as
// NAME.crt and NAME.key: the layout `berth gateway --cert-dir` reads.
func tlsVolumeOf(st tlsState) *corev1ac.VolumeApplyConfiguration {
	proj := corev1ac.ProjectedVolumeSource().WithDefaultMode(0o440)
	for _, s := range st.Served {
		proj.WithSources(corev1ac.VolumeProjection().WithSecret(corev1ac.SecretProjection().WithName(s.Name).
			WithItems(
				corev1ac.KeyToPath().WithKey(corev1.TLSCertKey).WithPath(s.Name+".crt"),
				corev1ac.KeyToPath().WithKey(corev1.TLSPrivateKeyKey).WithPath(s.Name+".key"))))
	}
	return corev1ac.Volume().WithName(tlsVolume).WithProjected(proj)
}

// gatewayService is the environment's one public address: a LoadBalancer
// in front of every gateway pod, port 80, and 443 when it serves HTTPS.
func gatewayService(env store.Environment, https bool) *corev1ac.ServiceApplyConfiguration {
	sel := map[string]string{kube.LabelManagedBy: kube.ManagedByBerth, LabelRole: RoleGateway, LabelEnv: env.Name}
	ports := []*corev1ac.ServicePortApplyConfiguration{corev1ac.ServicePort().WithName("http").WithPort(80).
		WithTargetPort(intstr.FromString("http")).WithProtocol(corev1.ProtocolTCP)}
	if https {
		ports = append(ports, corev1ac.ServicePort().WithName("https").WithPort(443).
			WithTargetPort(intstr.FromString("https")).WithProtocol(corev1.ProtocolTCP))
	}
	return corev1ac.Service(GatewayName, env.Namespace).WithLabels(gatewayLabels(env.Name)).
		WithSpec(corev1ac.ServiceSpec().WithType(corev1.ServiceTypeLoadBalancer).
			WithExternalTrafficPolicy(corev1.ServiceExternalTrafficPolicyLocal). // clients' addresses reach the gateway
			WithSelector(sel).
			WithPorts(ports...))
}

func gatewaySecret(env store.Environment, tok string) *corev1ac.SecretApplyConfiguration {
	return corev1ac.Secret(GatewayName, env.Namespace).WithLabels(gatewayLabels(env.Name)).
		WithType(corev1.SecretTypeOpaque).WithStringData(map[string]string{tokenKey: tok})
}

// ensureGateway makes the environment's gateway objects what they should
// be. The token in the Secret is kept while the store still accepts it;
// otherwise a new one is issued and the pods roll onto it.
func (r *Reconciler) ensureGateway(ctx context.Context, kc kubernetes.Interface, env store.Environment, tls tlsState) error {
	if r.opts.ControlPlaneURL == "" {
		return ErrNoControlPlaneURL
	}
	ns := env.Namespace
	if err := ensureNamespace(ctx, kc, ns); err != nil {
		return err
	}
	var tok string
	if s, err := kc.CoreV1().Secrets(ns).Get(ctx, GatewayName, metav1.GetOptions{}); err == nil {
		tok = string(s.Data[tokenKey])
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("secret %s: %w", GatewayName, err)
	}
	ok, err := r.tokenValid(ctx, env, tok)
	if err != nil {
		return err
	}
	if !ok {
		if tok, err = r.issueToken(ctx, env); err != nil {
			return err
		}
		if _, err := kc.CoreV1().Secrets(ns).Apply(ctx, gatewaySecret(env, tok), applyOpts); err != nil {
			return fmt.Errorf("secret %s: %w", GatewayName, err)
		}
	}
	sum := sha256.Sum256([]byte(tok))
	cfg := gatewayConfig{env: env, image: r.opts.Image, server: r.opts.ControlPlaneURL,
		replicas: int32(r.opts.GatewayReplicas), tokenHash: hex.EncodeToString(sum[:8]), tls: tls}
	if _, err := kc.AppsV1().Deployments(ns).Apply(ctx, gatewayDeployment(cfg), applyOpts); err != nil {
		return fmt.Errorf("deployment %s: %w", GatewayName, err)
	}
	if _, err := kc.CoreV1().Services(ns).Apply(ctx, gatewayService(env, len(tls.Served) > 0), applyOpts); err != nil {
		return fmt.Errorf("service %s: %w", GatewayName, err)
	}
	return nil
}

// ensureNamespace creates the environment's namespace when missing, as the
// Kubernetes runtime does (a namespace an administrator made, where Berth
// may not write namespaces, is fine as it is).
func ensureNamespace(ctx context.Context, kc kubernetes.Interface, ns string) error {
	if _, err := kc.CoreV1().Namespaces().Apply(ctx,
		corev1ac.Namespace(ns).WithLabels(map[string]string{kube.LabelManagedBy: kube.ManagedByBerth}), applyOpts); err != nil &&
		!apierrors.IsForbidden(err) {
		return fmt.Errorf("namespace %s: %w", ns, err)
	}
	return nil
}
