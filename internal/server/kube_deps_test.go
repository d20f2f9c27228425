package server

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// shopWithAPI is an app whose web needs its api; api at image tag v, with
// a canary strategy that waits at 50 % (promote ends it), or without api.
func shopWithAPI(v int, withAPI bool) string {
	if !withAPI {
		return `name: shop
services:
  web:
    image: registry.berth.test/shop-web:1
    ports: [8080]
`
	}
	return fmt.Sprintf(`name: shop
services:
  web:
    image: registry.berth.test/shop-web:1
    ports: [8080]
    depends_on: [api]
  api:
    image: registry.berth.test/shop-api:%d
    ports: [9090]
    replicas: 2
strategy:
  type: canary
  steps: [{weight: 50}]
`, v)
}

// secretValue is a key of a Secret in namespace ns, decoded.
func secretValue(t *testing.T, kc *kubetest.Cluster, ns, secret, key string) string {
	t.Helper()
	out, err := kc.Kubectl(t.Context(), "-n", ns, "get", "secret", secret, "-o", "jsonpath={.data."+key+"}")
	if err != nil {
		t.Fatalf("secret %s: %v", secret, err)
	}
	b, err := base64.StdEncoding.DecodeString(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// On a cluster, a service that needs another is started with the DNS name
// of the other's address Service, which selects the pods of both tracks
// during a canary, comes back when deleted, and goes with the service.
func TestDependencyAddressOnCluster(t *testing.T) {
	const ns = "shop-deps"
	c, kc, _ := startWithCluster(t, "staging", ns)
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: shopWithAPI(1, true), Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	a := waitRelease(t, c, "shop", 1, api.ReleaseDeployed)

	const addr = "shop-api." + ns + ".svc:9090"
	if got := secretValue(t, kc, ns, "shop-web-r1-berth-env", "API_URL"); got != "http://"+addr {
		t.Errorf("web's API_URL %q, want http://%s", got, addr)
	}
	if got := secretValue(t, kc, ns, "shop-web-r1-berth-env", "API_ADDR"); got != addr {
		t.Errorf("web's API_ADDR %q, want %s", got, addr)
	}
	kubectlEventually(t, kc, "web's pods read that Secret", "shop-web-r1-berth-env",
		"-n", ns, "get", "deployment", "shop-web-r1", "-o", "jsonpath={.spec.template.spec.containers[0].envFrom[*].secretRef.name}")
	for _, s := range a.Status.Services {
		if s.Name == "api" && s.Address != addr {
			t.Errorf("api's address in the app's status: %q, want %s", s.Address, addr)
		}
	}
	sel, err := kc.Kubectl(t.Context(), "-n", ns, "get", "service", "shop-api", "-o", "jsonpath={.spec.selector}")
	if err != nil || !strings.Contains(string(sel), `"berth.dev/service":"api"`) || strings.Contains(string(sel), "berth.dev/workload") {
		t.Fatalf("the address Service's selector: %s %v", sel, err)
	}

	// A canary of api: the address balances over both tracks.
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: shopWithAPI(2, true), Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	waitCanaryReady(t, c, "shop", 2)
	tracks := func() string {
		out, err := kc.Kubectl(t.Context(), "-n", ns, "get", "endpointslices", "-l", "kubernetes.io/service-name=shop-api",
			"-o", `jsonpath={range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name}{"\n"}{end}`)
		if err != nil {
			return err.Error()
		}
		var r1, r2 int
		for _, pod := range strings.Fields(string(out)) {
			r1 += b2i(strings.HasPrefix(pod, "shop-api-r1-"))
			r2 += b2i(strings.HasPrefix(pod, "shop-api-r2-"))
		}
		if r1 == 0 || r2 == 0 {
			return fmt.Sprintf("ready endpoints %q", out)
		}
		return ""
	}
	eventuallyEmpty(t, "endpoints of both tracks", tracks)
	if got := secretValue(t, kc, ns, "shop-web-r2-berth-env", "API_URL"); got != "http://"+addr {
		t.Errorf("the canary web's API_URL %q, want http://%s", got, addr)
	}

	// Deleted behind Berth's back: drift repair brings it back.
	uid, err := kc.Kubectl(t.Context(), "-n", ns, "get", "service", "shop-api", "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := kc.Kubectl(t.Context(), "-n", ns, "delete", "service", "shop-api"); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	eventuallyEmpty(t, "the address Service back", func() string {
		out, err := kc.Kubectl(t.Context(), "-n", ns, "get", "service", "shop-api", "-o", "jsonpath={.metadata.uid}")
		if err != nil || string(out) == string(uid) {
			return fmt.Sprintf("%q %v", out, err)
		}
		return ""
	})
	eventuallyEmpty(t, "endpoints of both tracks after the repair", tracks)

	if _, err := c.Promote(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "shop", 2, api.ReleaseDeployed)
	kubectlEventually(t, kc, "the address Service after the promotion", "shop-api", "-n", ns, "get", "service", "shop-api", "-o", "name")

	// api leaves the spec: its address goes with it.
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: shopWithAPI(0, false), Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "shop", 3, api.ReleaseDeployed)
	kubectlEventually(t, kc, "the api's address pruned", "", "-n", ns, "get", "services", "-l", "berth.dev/role=address,berth.dev/service=api", "-o", "name")
	kubectlEventually(t, kc, "web's address stays", "shop-web", "-n", ns, "get", "services", "-l", "berth.dev/role=address", "-o", "name")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// eventuallyEmpty polls cond for up to a minute until it returns "".
func eventuallyEmpty(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		last := cond()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCanaryReady waits until release n runs as a ready canary.
func waitCanaryReady(t *testing.T, c *client.Client, app string, n int) {
	t.Helper()
	eventuallyEmpty(t, "a ready canary", func() string {
		a, err := c.GetApp(t.Context(), app)
		if err != nil {
			return err.Error()
		}
		if cs := a.Status.Canary; cs == nil || cs.Release != n || !cs.Ready {
			return fmt.Sprintf("canary %+v", a.Status.Canary)
		}
		return ""
	})
}

// `berth logs` of an app on a cluster returns what its pods logged (kwok
// serves a file as every container's log), and -f follows what is
// appended.
func TestLogsOnCluster(t *testing.T) {
	logFile := filepath.Join(t.TempDir(), "pods.log")
	if err := kubetest.AppendLog(logFile, "first line from the pod", "second line from the pod"); err != nil {
		t.Fatal(err)
	}
	c, _, _ := startWithClusterOpts(t, "staging", "shop-logs", kubetest.Options{Nodes: 1, PodLogs: logFile})
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: "name: shop\nservices:\n  web:\n    image: registry.berth.test/shop-web:1\n", Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "shop", 1, api.ReleaseDeployed)

	rc, err := c.Logs(t.Context(), "shop", client.LogOptions{Service: "web"})
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"first line from the pod", "second line from the pod"} {
		if !strings.Contains(string(all), want) {
			t.Errorf("logs %q lack %q", all, want)
		}
	}

	rc, err = c.Logs(t.Context(), "shop", client.LogOptions{Service: "web", Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	err = kubetest.FollowUntil(rc, "appended while following", func() error {
		return kubetest.AppendLog(logFile, "appended while following")
	}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
}

// A server in a pod reaches its cluster with the pod's service account:
// the cluster added in_cluster reports its version, an app deploys into
// a namespace the account may use, and a token without rights gives an
// error naming the cluster.
func TestInClusterCluster(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Nodes: 2})
	const appNS = "shop-in"
	rbac := kubetest.NodeReader("berth-system", "berth") + "---\n" + kubetest.NamespaceAdmin(appNS, "berth-system", "berth")
	acct, err := kc.ServiceAccount(t.Context(), "berth-system", "berth", rbac, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := runInProcess(t, Config{DataDir: t.TempDir(), InClusterDir: acct.Dir, LookupEnv: acct.LookupEnv}, "")
	c := s.c
	cl, err := c.AddCluster(t.Context(), api.ClusterRequest{Name: "here", InCluster: true})
	if err != nil {
		t.Fatal(err)
	}
	if !cl.InCluster || cl.Server != kc.Server || cl.Health.Status != api.ClusterHealthy || cl.Health.Version != kubetest.KubeVersion {
		t.Fatalf("cluster added in-cluster: %+v", cl)
	}
	if _, err := c.CreateEnvironment(t.Context(), api.EnvironmentRequest{Name: "prod", Cluster: "here", Namespace: appNS}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: "name: shop\nservices:\n  web:\n    image: registry.berth.test/shop-web:1\n    replicas: 2\n", Env: "prod"}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "shop", 1, api.ReleaseDeployed)
	kubectlEventually(t, kc, "the app's Deployment", "2", "-n", appNS, "get", "deployment", "shop-web-r1", "-o", "jsonpath={.status.readyReplicas}")

	// The account loses its rights: a token of an account with none.
	none, err := kc.ServiceAccount(t.Context(), "berth-system", "nobody", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(filepath.Join(none.Dir, "token"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(acct.Dir, "token"), token, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = c.AddCluster(t.Context(), api.ClusterRequest{Name: "again", InCluster: true})
	if err == nil || !strings.Contains(err.Error(), "cluster again") || !strings.Contains(err.Error(), "forbids") {
		t.Fatalf("adding an in-cluster cluster without rights: %v; want an error naming the cluster", err)
	}
	got, err := c.GetCluster(t.Context(), "here")
	if err != nil {
		t.Fatal(err)
	}
	if got.Health.Status != api.ClusterForbidden || !strings.Contains(got.Health.Message, "cluster here") {
		t.Fatalf("health of the cluster without rights: %+v", got.Health)
	}
}
