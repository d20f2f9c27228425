package clusterroute

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/berthdev/berth/internal/store"
)

// TestGatewayObjects: the gateway follows its environment's feed with the
// token from its Secret, is ready when it serves a table, and one
// LoadBalancer fronts it.
func TestGatewayObjects(t *testing.T) {
	t.Parallel()
	env := store.Environment{Name: "staging", Namespace: "shop"}
	d := roundTrip[appsv1.Deployment](t, gatewayDeployment(gatewayConfig{env: env, image: "ghcr.io/berthdev/berth:1.0",
		server: "https://berth.example:7700", replicas: 2, tokenHash: "abc"}))
	c := d.Spec.Template.Spec.Containers[0]
	wantArgs := []string{"gateway", "--server", "https://berth.example:7700", "--env", "staging", "--listen", ":8080",
		"--metrics-listen", ":9180", "--state-file", "-", "--access-log", "-"}
	if d.Name != GatewayName || d.Namespace != "shop" || *d.Spec.Replicas != 2 || c.Image != "ghcr.io/berthdev/berth:1.0" || !slices.Equal(c.Args, wantArgs) {
		t.Errorf("deployment %s/%s replicas %d image %s args %v", d.Namespace, d.Name, *d.Spec.Replicas, c.Image, c.Args)
	}
	if len(c.Env) != 1 || c.Env[0].Name != "BERTH_TOKEN" || c.Env[0].ValueFrom.SecretKeyRef.Name != GatewayName || c.Env[0].ValueFrom.SecretKeyRef.Key != tokenKey {
		t.Errorf("env %+v", c.Env)
	}
	if c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("probes %+v %+v", c.ReadinessProbe, c.LivenessProbe)
	}
	if sc := d.Spec.Template.Spec.SecurityContext; sc == nil || !*sc.RunAsNonRoot || *c.SecurityContext.AllowPrivilegeEscalation {
		t.Errorf("security %+v %+v", sc, c.SecurityContext)
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("selector %s=%s not on the pods", k, v)
		}
	}
	s := roundTrip[corev1.Service](t, gatewayService(env, false))
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer || len(s.Spec.Ports) != 1 || s.Spec.Ports[0].Port != 80 || s.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("service %+v", s.Spec)
	}
	for k, v := range s.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("service selector %s=%s not on the pods", k, v)
		}
	}
}
