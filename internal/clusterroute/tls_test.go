package clusterroute

import (
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/testcert"
	"github.com/berthdev/berth/pkg/api"
)

// TestGatewayTLSObjects: with served TLS Secrets the gateway listens with
// TLS on a second port, reads the projected Secrets as NAME.crt/NAME.key
// in its certificate directory, and the Service has 443 beside 80; with
// none, nothing of it is there.
func TestGatewayTLSObjects(t *testing.T) {
	t.Parallel()
	env := store.Environment{Name: "staging", Namespace: "shop", TLSSecrets: "shop-tls,api-tls"}
	tls := tlsState{Served: []servedSecret{{"shop-tls", "11"}, {"api-tls", "12"}}}
	d := roundTrip[appsv1.Deployment](t, gatewayDeployment(gatewayConfig{env: env, image: "b:1", server: "https://cp", replicas: 2, tokenHash: "abc", tls: tls}))
	c := d.Spec.Template.Spec.Containers[0]
	if args := strings.Join(c.Args, " "); !strings.HasSuffix(args, "--access-log - --tls-listen :8443 --cert-dir /etc/berth/tls") {
		t.Errorf("args %q", args)
	}
	if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "https" && p.ContainerPort == 8443 }) {
		t.Errorf("ports %+v", c.Ports)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != certDir || !c.VolumeMounts[0].ReadOnly {
		t.Errorf("mounts %+v", c.VolumeMounts)
	}
	vols := d.Spec.Template.Spec.Volumes
	if len(vols) != 1 || vols[0].Projected == nil || len(vols[0].Projected.Sources) != 2 {
		t.Fatalf("volumes %+v", vols)
	}
	for i, name := range []string{"shop-tls", "api-tls"} {
		src := vols[0].Projected.Sources[i].Secret
		if src == nil || src.Name != name || len(src.Items) != 2 ||
			src.Items[0] != (corev1.KeyToPath{Key: "tls.crt", Path: name + ".crt"}) || src.Items[1] != (corev1.KeyToPath{Key: "tls.key", Path: name + ".key"}) {
			t.Errorf("source %d: %+v", i, src)
		}
	}
	if g := d.Spec.Template.Spec.SecurityContext.FSGroup; g == nil || *g != gatewayUID || *vols[0].Projected.DefaultMode != 0o440 {
		t.Errorf("the keys are not the gateway's group's alone: fsGroup %v mode %o", g, *vols[0].Projected.DefaultMode)
	}
	if d.Spec.Template.Annotations[annotationTLS] != tls.digest() || tls.digest() == "" {
		t.Errorf("annotations %v", d.Spec.Template.Annotations)
	}
	// A renewed certificate (a new resource version) rolls the pods.
	renewed := tlsState{Served: []servedSecret{{"shop-tls", "13"}, {"api-tls", "12"}}}
	if renewed.digest() == tls.digest() {
		t.Error("a new version of a Secret keeps the digest")
	}
	s := roundTrip[corev1.Service](t, gatewayService(env, true))
	if len(s.Spec.Ports) != 2 || s.Spec.Ports[1].Port != 443 || s.Spec.Ports[1].TargetPort.StrVal != "https" {
		t.Errorf("service ports %+v", s.Spec.Ports)
	}

	// No Secret served: the objects of an environment without TLS.
	plain := roundTrip[appsv1.Deployment](t, gatewayDeployment(gatewayConfig{env: env, image: "b:1", server: "https://cp", replicas: 2, tokenHash: "abc"}))
	pc := plain.Spec.Template.Spec.Containers[0]
	if strings.Contains(strings.Join(pc.Args, " "), "tls") || len(pc.VolumeMounts) != 0 || len(plain.Spec.Template.Spec.Volumes) != 0 ||
		len(pc.Ports) != 2 || plain.Spec.Template.Annotations[annotationTLS] != "" || plain.Spec.Template.Spec.SecurityContext.FSGroup != nil {
		t.Errorf("TLS parts without TLS: %+v %+v", pc, plain.Spec.Template)
	}
}

// TestInspectTLSSecret: only a kubernetes.io/tls Secret whose certificate
// and key belong together is served; an expired one is served but said.
func TestInspectTLSSecret(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good, err := testcert.New(now.Add(24*time.Hour), "shop.example", "*.shop.example")
	if err != nil {
		t.Fatal(err)
	}
	other, err := testcert.New(now.Add(24*time.Hour), "other.example")
	if err != nil {
		t.Fatal(err)
	}
	old, err := testcert.New(now.Add(-time.Minute), "old.example")
	if err != nil {
		t.Fatal(err)
	}
	secret := func(typ corev1.SecretType, crt, key []byte) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Type: typ, Data: map[string][]byte{"tls.crt": crt, "tls.key": key}}
	}
	tests := []struct {
		desc    string
		s       *corev1.Secret
		served  bool
		names   string
		wantErr string
	}{
		{"a good pair", secret(corev1.SecretTypeTLS, good.CertPEM, good.KeyPEM), true, "shop.example,*.shop.example", ""},
		{"an opaque Secret", secret(corev1.SecretTypeOpaque, good.CertPEM, good.KeyPEM), false, "", `has type "Opaque", want "kubernetes.io/tls"`},
		{"not issued yet", secret(corev1.SecretTypeTLS, nil, nil), false, "", "has no tls.crt or no tls.key"},
		{"a key of another certificate", secret(corev1.SecretTypeTLS, good.CertPEM, other.KeyPEM), false, "", "is not a certificate with its key"},
		{"expired", secret(corev1.SecretTypeTLS, old.CertPEM, old.KeyPEM), true, "old.example", "expired at"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got := inspectTLSSecret(tt.s, now)
			if got.Served != tt.served || strings.Join(got.Names, ",") != tt.names || !strings.Contains(got.Error, tt.wantErr) || (tt.wantErr == "") != (got.Error == "") {
				t.Errorf("got %+v; want served %v names %q error %q", got, tt.served, tt.names, tt.wantErr)
			}
		})
	}
}

// TestGatewayStatus: the gateway's state from its Deployment and pods,
// with an image that cannot be pulled said as such, with what to do.
func TestGatewayStatus(t *testing.T) {
	t.Parallel()
	two := int32(2)
	deploy := func(ready, updated int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			Spec:   appsv1.DeploymentSpec{Replicas: &two, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Image: "ghcr.io/berthdev/berth:v1"}}}}},
			Status: appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: ready, UpdatedReplicas: updated},
		}
	}
	waiting := func(reason, msg string) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "shop"}, Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{
			Image: "ghcr.io/berthdev/berth:v1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: msg}}}}}}
	}
	tests := []struct {
		desc    string
		d       *appsv1.Deployment
		pods    []corev1.Pod
		state   string
		problem string
	}{
		{"every replica ready", deploy(2, 2), nil, api.GatewayReady, ""},
		{"rolling", deploy(2, 1), []corev1.Pod{waiting("ContainerCreating", "")}, api.GatewayProgressing, ""},
		{"image not pullable", deploy(0, 2), []corev1.Pod{waiting("ImagePullBackOff", `Back-off pulling image "ghcr.io/berthdev/berth:v1"`), waiting("ErrImagePull", "not found")},
			api.GatewayDegraded, "the gateway image ghcr.io/berthdev/berth:v1 cannot be pulled (ErrImagePull: not found): build it with \"make image\""},
		{"crashing", deploy(0, 2), []corev1.Pod{waiting("CrashLoopBackOff", "")}, api.GatewayDegraded, "kubectl -n shop logs deploy/berth-gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			st := gatewayStatus(tt.d, tt.pods)
			if st.Gateway != tt.state || st.Replicas != 2 || st.Image != "ghcr.io/berthdev/berth:v1" {
				t.Errorf("status %+v, want %s", st, tt.state)
			}
			if tt.problem == "" && len(st.Problems) > 0 || tt.problem != "" && !slices.ContainsFunc(st.Problems, func(p string) bool { return strings.Contains(p, tt.problem) }) {
				t.Errorf("problems %q, want one with %q", st.Problems, tt.problem)
			}
			if tt.problem != "" && strings.Contains(tt.problem, "pulled") && !strings.Contains(strings.Join(st.Problems, ""), "--cluster-gateway-image") {
				t.Errorf("problems %q do not name --cluster-gateway-image", st.Problems)
			}
		})
	}
}
