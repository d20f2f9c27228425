package clusterroute

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	gwclient "sigs.k8s.io/gateway-api/pkg/client/clientset/versioned"

	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// gatewayAPICRDs applies the standard Gateway API CRDs from the
// sigs.k8s.io/gateway-api module Berth builds with, and waits until the
// API server serves them.
func gatewayAPICRDs(t *testing.T, c *kubetest.Cluster) {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-m", "-f", "{{.Dir}}", "sigs.k8s.io/gateway-api").Output()
	if err != nil {
		t.Fatalf("find the gateway-api module: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "config", "crd", "standard")
	for _, kind := range []string{"gatewayclasses", "gateways", "httproutes", "referencegrants"} {
		b, err := os.ReadFile(filepath.Join(dir, "gateway.networking.k8s.io_"+kind+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Kubectl(t.Context(), "wait", "--for", "condition=established", "--timeout", "60s",
		"crd/httproutes.gateway.networking.k8s.io"); err != nil {
		t.Fatal(err)
	}
}

// TestRoutingOnCluster runs the reconciler against a real control plane
// (kwok nodes): an environment with routing gateway gets Berth's gateway
// (Deployment, LoadBalancer Service, the Secret with a live token of that
// environment), repaired when deleted and pruned with the environment; an
// environment with routing gateway-api gets HTTPRoutes whose backendRef
// weights follow the canary's weight, pruned with the app.
func TestRoutingOnCluster(t *testing.T) {
	c, db, kc, gc := startCluster(t)
	gatewayAPICRDs(t, c)
	ctx := t.Context()
	now := time.Now().UTC()
	for _, e := range []store.Environment{
		{Name: "staging", Team: "team-a", Cluster: "kwok", Namespace: "shop-staging", Routing: api.RoutingGateway},
		{Name: "prod", Team: "team-a", Cluster: "kwok", Namespace: "shop-prod", Routing: api.RoutingGatewayAPI, GatewayParent: "infra/edge"},
	} {
		e.CreatedAt = now
		if err := db.CreateEnvironment(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	r := New(Options{
		Store: db, Open: func(context.Context, string) (Clients, error) { return Clients{Kube: kc, Gateway: gc}, nil },
		ControlPlaneURL: "https://berth.example:7700", Image: "registry.berth.test/berth:1", GatewayReplicas: 1,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	sync := func() {
		t.Helper()
		if err := r.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sync()

	// The gateway of staging.
	d, err := kc.AppsV1().Deployments("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " "); !strings.Contains(args, "--server https://berth.example:7700 --env staging") {
		t.Errorf("gateway args %q", args)
	}
	svc, err := kc.CoreV1().Services("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
	if err != nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		t.Fatalf("gateway service %+v %v", svc, err)
	}
	sec, err := kc.CoreV1().Secrets("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok := string(sec.Data[tokenKey])
	row, err := db.GetTokenByHash(ctx, token.Hash(tok))
	if err != nil || row.Kind != string(token.KindGateway) || row.Name != "staging" || row.Team != "team-a" || !row.RevokedAt.IsZero() {
		t.Fatalf("the Secret's token: %+v %v", row, err)
	}
	// kwok marks the gateway's pod ready: the Deployment becomes available.
	waitFor(t, "the gateway Deployment available", func() error {
		d, err := kc.AppsV1().Deployments("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
		if err != nil || d.Status.AvailableReplicas != 1 {
			return fmt.Errorf("available %d %v", d.Status.AvailableReplicas, err)
		}
		return nil
	})
	// A second pass keeps the token; the Service deleted by hand comes
	// back on the next full pass.
	if err := kc.CoreV1().Services("shop-staging").Delete(ctx, GatewayName, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	r.forceFull()
	sync()
	if _, err := kc.CoreV1().Services("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{}); err != nil {
		t.Errorf("gateway service not repaired: %v", err)
	}
	if s, _ := kc.CoreV1().Secrets("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{}); string(s.Data[tokenKey]) != tok {
		t.Error("a second pass replaced a live token")
	}
	// prod routes by HTTPRoutes: no gateway there.
	if _, err := kc.AppsV1().Deployments("shop-prod").Get(ctx, GatewayName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a gateway in an environment with routing gateway-api: %v", err)
	}

	// shop in prod: release 1 serving, release 2 a canary at 10 %.
	sp := spec.App{Name: "shop", Services: map[string]*spec.Service{"web": {Image: "x", Ports: []spec.Port{{Port: 9090}}}},
		Routes: []spec.Route{{Host: "shop.example.com", Path: "/", Service: "web"}}}
	b, _ := json.Marshal(sp)
	if err := db.CreateApp(ctx, store.App{Name: "shop", Env: "prod", LatestRelease: 2, TargetRelease: 2,
		Canary: &store.Canary{Release: 2, Weight: 10, StepStartedAt: now},
		Status: api.AppStatus{Release: 2, Serving: 1, Phase: api.PhaseProgressing}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for n, state := range map[int]string{1: api.ReleaseDeployed, 2: api.ReleaseProgressing} {
		if err := db.CreateRelease(ctx, store.Release{App: "shop", Number: n, Spec: b, State: state, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	weights := func() string {
		t.Helper()
		hr, err := gc.GatewayV1().HTTPRoutes("shop-prod").Get(ctx, "shop-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range hr.Spec.Rules[0].BackendRefs {
			out = append(out, fmt.Sprintf("%s:%d=%d", b.Name, *b.Port, *b.Weight))
		}
		return strings.Join(out, ",")
	}
	sync()
	if got := weights(); got != "shop-web-r1:9090=90,shop-web-r2:9090=10" {
		t.Errorf("at 10 %%: %s", got)
	}
	setCanary := func(c *store.Canary, serving int) {
		t.Helper()
		a, err := db.GetApp(ctx, "shop")
		if err != nil {
			t.Fatal(err)
		}
		a.Canary, a.Status.Serving = c, serving
		if _, err := db.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
		sync()
	}
	setCanary(&store.Canary{Release: 2, Weight: 50, StepStartedAt: now}, 1)
	if got := weights(); got != "shop-web-r1:9090=50,shop-web-r2:9090=50" {
		t.Errorf("at 50 %%: %s", got)
	}
	setCanary(nil, 2) // promoted
	if got := weights(); got != "shop-web-r2:9090=100" {
		t.Errorf("promoted: %s", got)
	}

	// The app goes: its HTTPRoute goes. staging goes: its gateway goes and
	// its token is revoked.
	if err := db.DeleteApp(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteEnvironment(ctx, "staging"); err != nil {
		t.Fatal(err)
	}
	sync()
	if _, err := gc.GatewayV1().HTTPRoutes("shop-prod").Get(ctx, "shop-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the HTTPRoute of a deleted app: %v", err)
	}
	for kind, get := range map[string]func() error{
		"deployment": func() error {
			_, err := kc.AppsV1().Deployments("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
			return err
		},
		"service": func() error {
			_, err := kc.CoreV1().Services("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
			return err
		},
		"secret": func() error {
			_, err := kc.CoreV1().Secrets("shop-staging").Get(ctx, GatewayName, metav1.GetOptions{})
			return err
		},
	} {
		if err := get(); !apierrors.IsNotFound(err) {
			t.Errorf("the gateway %s of a removed environment: %v", kind, err)
		}
	}
	if row, err := db.GetTokenByHash(ctx, token.Hash(tok)); err != nil || row.RevokedAt.IsZero() {
		t.Errorf("the token of a removed environment: %+v %v", row, err)
	}
}

// startCluster starts a control plane with one kwok node and a store that
// has it registered as cluster "kwok", and returns clients of it.
func startCluster(t *testing.T) (*kubetest.Cluster, *sqlite.DB, kubernetes.Interface, gwclient.Interface) {
	t.Helper()
	c := kubetest.Start(t, kubetest.Options{Nodes: 1})
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kubecluster.Config(kubeconfig, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCluster(ctx, store.Cluster{Name: "kwok", Server: c.Server, CreatedAt: time.Now().UTC()}, kubeconfig); err != nil {
		t.Fatal(err)
	}
	return c, db, kubernetes.NewForConfigOrDie(cfg), gwclient.NewForConfigOrDie(cfg)
}

func waitFor(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// forceFull makes the next pass a full one.
func (r *Reconciler) forceFull() {
	r.mu.Lock()
	r.lastFull = time.Time{}
	r.mu.Unlock()
}
