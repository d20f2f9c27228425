package clusterroute

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/testcert"
	"github.com/berthdev/berth/pkg/api"
)

// TestGatewayTLSOnCluster runs the reconciler against a real control
// plane with TLS Secrets named on the environment: only the Secret that
// holds a certificate and its key is mounted (the missing and the Opaque
// one are reported in the environment's status), the gateway listens
// with TLS and the Service has 443; a Secret that appears, or a renewed
// certificate, rolls the Deployment onto a new ReplicaSet; removing the
// setting takes every TLS part away again; pruning the environment's
// gateway leaves the operator's Secrets alone.
func TestGatewayTLSOnCluster(t *testing.T) {
	_, db, kc, gc := startCluster(t)
	ctx := t.Context()
	now := time.Now().UTC()
	env := store.Environment{Name: "web", Team: "team-a", Cluster: "kwok", Namespace: "web", Routing: api.RoutingGateway,
		TLSSecrets: "good-tls,later-tls,opaque-tls", CreatedAt: now}
	if err := db.CreateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	putTLS := func(name string, typ corev1.SecretType, host string) {
		t.Helper()
		p, err := testcert.New(time.Now().Add(24*time.Hour), host)
		if err != nil {
			t.Fatal(err)
		}
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "web"}, Type: typ,
			Data: map[string][]byte{corev1.TLSCertKey: p.CertPEM, corev1.TLSPrivateKeyKey: p.KeyPEM}}
		if _, err := kc.CoreV1().Secrets("web").Update(ctx, s, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
			_, err = kc.CoreV1().Secrets("web").Create(ctx, s, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
		} else if err != nil {
			t.Fatal(err)
		}
	}
	putTLS("good-tls", corev1.SecretTypeTLS, "web.example")
	putTLS("opaque-tls", corev1.SecretTypeOpaque, "opaque.example")

	r := New(Options{
		Store: db, Open: func(context.Context, string) (Clients, error) { return Clients{Kube: kc, Gateway: gc}, nil },
		ControlPlaneURL: "https://berth.example:7700", Image: "registry.berth.test/berth:1", GatewayReplicas: 1,
		StatusEvery: time.Millisecond, // every pass reads the Secrets and the pods
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	})
	sync := func() {
		t.Helper()
		time.Sleep(2 * time.Millisecond)
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	deployment := func() *appsv1.Deployment {
		t.Helper()
		d, err := kc.AppsV1().Deployments("web").Get(ctx, GatewayName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	mounted := func(d *appsv1.Deployment) []string {
		var out []string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for _, s := range v.Projected.Sources {
				out = append(out, s.Secret.Name)
			}
		}
		return out
	}
	servicePorts := func() []int32 {
		t.Helper()
		s, err := kc.CoreV1().Services("web").Get(ctx, GatewayName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []int32
		for _, p := range s.Spec.Ports {
			out = append(out, p.Port)
		}
		return out
	}
	replicaSets := func() int {
		t.Helper()
		l, err := kc.AppsV1().ReplicaSets("web").List(ctx, metav1.ListOptions{LabelSelector: LabelRole + "=" + RoleGateway})
		if err != nil {
			t.Fatal(err)
		}
		return len(l.Items)
	}
	status := func() api.EnvironmentStatus {
		t.Helper()
		st, err := db.EnvironmentStatus(ctx, "web")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	sync()
	d := deployment()
	args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
	if !strings.Contains(args, "--tls-listen :8443 --cert-dir /etc/berth/tls") {
		t.Errorf("args %q", args)
	}
	if got := mounted(d); !slices.Equal(got, []string{"good-tls"}) {
		t.Errorf("mounted %v, want only good-tls", got)
	}
	if got := servicePorts(); !slices.Equal(got, []int32{80, 443}) {
		t.Errorf("service ports %v", got)
	}
	st := status()
	byName := map[string]api.TLSSecretStatus{}
	for _, s := range st.TLSSecrets {
		byName[s.Name] = s
	}
	if g := byName["good-tls"]; !g.Served || !slices.Equal(g.Names, []string{"web.example"}) || g.Error != "" {
		t.Errorf("good-tls: %+v", g)
	}
	if l := byName["later-tls"]; l.Served || !strings.Contains(l.Error, "not found in namespace web") {
		t.Errorf("later-tls: %+v", l)
	}
	if o := byName["opaque-tls"]; o.Served || !strings.Contains(o.Error, `has type "Opaque"`) {
		t.Errorf("opaque-tls: %+v", o)
	}
	if len(st.Problems) != 2 || st.CheckedAt.IsZero() || st.Image != "registry.berth.test/berth:1" {
		t.Errorf("status %+v", st)
	}
	waitFor(t, "the gateway ready in its status", func() error {
		sync()
		if st := status(); st.Gateway != api.GatewayReady || st.Ready != 1 {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	rollsOnto := func(what string, want []string) {
		t.Helper()
		before, sets := deployment(), replicaSets()
		sync()
		after := deployment()
		if got := mounted(after); !slices.Equal(got, want) {
			t.Errorf("%s: mounted %v, want %v", what, got, want)
		}
		if after.Generation == before.Generation || after.Spec.Template.Annotations[annotationTLS] == before.Spec.Template.Annotations[annotationTLS] {
			t.Errorf("%s: the pod template did not change (generation %d)", what, after.Generation)
		}
		waitFor(t, what+": a new ReplicaSet", func() error {
			if n := replicaSets(); n <= sets {
				return fmt.Errorf("%d ReplicaSets, had %d", n, sets)
			}
			return nil
		})
	}
	// The missing Secret appears: the gateway rolls onto both.
	putTLS("later-tls", corev1.SecretTypeTLS, "later.example")
	rollsOnto("a Secret appeared", []string{"good-tls", "later-tls"})
	if st := status(); len(st.Problems) != 1 || !strings.Contains(st.Problems[0], "opaque-tls") {
		t.Errorf("problems after later-tls appeared: %q", st.Problems)
	}
	// cert-manager renews good-tls: the gateway rolls to load it.
	putTLS("good-tls", corev1.SecretTypeTLS, "web.example")
	rollsOnto("a renewed certificate", []string{"good-tls", "later-tls"})
	// A pass with nothing new changes nothing.
	gen := deployment().Generation
	sync()
	if deployment().Generation != gen {
		t.Error("a pass with nothing new changed the Deployment")
	}

	// The setting removed: every TLS part goes, and the pods roll.
	env.TLSSecrets = ""
	if err := db.UpdateEnvironment(ctx, env); err != nil {
		t.Fatal(err)
	}
	sync()
	d = deployment()
	if args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); strings.Contains(args, "tls") || len(d.Spec.Template.Spec.Volumes) != 0 ||
		len(d.Spec.Template.Spec.Containers[0].VolumeMounts) != 0 || d.Spec.Template.Annotations[annotationTLS] != "" || d.Generation == gen {
		t.Errorf("TLS left on the gateway after the setting went: args %q, template %+v", args, d.Spec.Template)
	}
	if got := servicePorts(); !slices.Equal(got, []int32{80}) {
		t.Errorf("service ports %v after TLS went", got)
	}
	if st := status(); len(st.TLSSecrets) != 0 || len(st.Problems) != 0 {
		t.Errorf("status after TLS went: %+v", st)
	}

	// The environment goes: its gateway is pruned, the operator's Secrets stay.
	if err := db.DeleteEnvironment(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := kc.AppsV1().Deployments("web").Get(ctx, GatewayName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the gateway of a removed environment: %v", err)
	}
	for _, name := range []string{"good-tls", "later-tls", "opaque-tls"} {
		if _, err := kc.CoreV1().Secrets("web").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("the operator's Secret %s after pruning: %v", name, err)
		}
	}
}
