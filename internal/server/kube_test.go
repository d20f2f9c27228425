package server

import (
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// An app applied to an environment runs on its cluster: the server's
// reconciler drives the Kubernetes runtime through the environment router,
// against a real control plane (kwok nodes).
func TestAppInKubernetesEnvironment(t *testing.T) {
	c, kc, apiAddr := startWithCluster(t, "staging", "shop-staging")
	spec := `name: shop
services:
  web:
    image: registry.berth.test/shop-web:1
    ports: [8080]
    replicas: 2
    health: {http: {path: /healthz}, interval: 1s}
    config: {reload: signal}
routes:
  - {host: shop.example, service: web}
`
	res, err := c.Apply(t.Context(), api.ApplyRequest{Spec: spec, Env: "staging"})
	if err != nil || res.Release != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	a := waitRelease(t, c, "shop", 1, api.ReleaseDeployed)
	if a.Env != "staging" {
		t.Errorf("app env %q", a.Env)
	}
	// Berth counts ready pods from its pod informer; the Deployment's own
	// status is written by the controller-manager a moment later.
	var out []byte
	for i := 0; ; i++ {
		out, err = kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "deployment", "shop-web-r1", "-o", "jsonpath={.status.readyReplicas}")
		if err == nil && string(out) == "2" {
			break
		}
		if i > 300 {
			t.Fatalf("deployment on the cluster: ready %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A files-only config change is reloaded live: the files ConfigMap
	// changes in place, the Deployment's pod template does not (no
	// rollout), and no workload of release 2 appears.
	generation := func() string {
		out, err := kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "deployment", "shop-web-r1", "-o", "jsonpath={.metadata.generation}")
		if err != nil {
			t.Fatalf("deployment generation: %v %s", err, out)
		}
		return string(out)
	}
	before := generation()
	ch, err := c.SetConfig(t.Context(), "shop", api.ConfigUpdate{Env: "staging", Files: map[string]string{"app.conf": "mode=live"}})
	if err != nil || ch.Release != 2 || ch.ReloadOf != 1 {
		t.Fatalf("config set: %+v %v; want release 2 reloading release 1", ch, err)
	}
	waitRelease(t, c, "shop", 2, api.ReleaseDeployed)
	out, err = kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "configmap", "shop-web-r1-files", "-o", "jsonpath={.data.app\\.conf}")
	if err != nil || string(out) != "mode=live" {
		t.Fatalf("files ConfigMap after the reload: %q %v", out, err)
	}
	if after := generation(); after != before {
		t.Errorf("the Deployment's generation went from %s to %s: a live reload rolled the pods", before, after)
	}
	out, err = kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "deployments", "-l", "berth.dev/app=shop", "-o", "name")
	if err != nil || strings.TrimSpace(string(out)) != "deployment.apps/shop-web-r1" {
		t.Errorf("deployments after the reload: %q %v; want only shop-web-r1", out, err)
	}

	// The environment's gateway runs in its namespace behind one
	// LoadBalancer, with a token that reads the environment's feed, whose
	// endpoints are the pods' from the Service's EndpointSlices.
	kubectlEventually(t, kc, "the gateway's Service", "LoadBalancer",
		"-n", "shop-staging", "get", "service", "berth-gateway", "-o", "jsonpath={.spec.type}")
	kubectlEventually(t, kc, "the gateway's Deployment", `"--env","staging"`,
		"-n", "shop-staging", "get", "deployment", "berth-gateway", "-o", "jsonpath={.spec.template.spec.containers[0].args}")
	secret, err := kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "secret", "berth-gateway", "-o", "jsonpath={.data.token}")
	if err != nil {
		t.Fatal(err)
	}
	gwToken, err := base64.StdEncoding.DecodeString(string(secret))
	if err != nil {
		t.Fatal(err)
	}
	gc := client.New("http://"+apiAddr, string(gwToken))
	var last string
	for i := 0; ; i++ {
		out, _ := kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "endpointslices", "-l", "kubernetes.io/service-name=shop-web-r1",
			"-o", `jsonpath={range .items[*].endpoints[*]}{.addresses[0]}{":8080\n"}{end}`)
		want := strings.Fields(string(out))
		slices.Sort(want)
		snap, err := gc.EnvGatewaySnapshot(t.Context(), "staging")
		var got []string
		if err == nil && len(snap.Routes) == 1 {
			for _, e := range snap.Routes[0].Tracks[0].Endpoints {
				got = append(got, e.Addr)
			}
		}
		if err == nil && len(want) == 2 && slices.Equal(got, want) {
			break
		}
		last = fmt.Sprintf("feed %v (%v), endpoint slices %v", got, err, want)
		if i > 300 {
			t.Fatalf("the environment's feed does not carry the cluster's endpoints: %s", last)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if snap, err := c.GatewaySnapshot(t.Context()); err != nil || len(snap.Routes) != 0 {
		t.Errorf("the server's own feed holds the environment's routes: %+v %v", snap, err)
	}

	// `berth env show` reports the gateway as the reconciler saw it, and a
	// TLS Secret named through the API that the namespace lacks.
	if _, err := c.UpdateEnvironment(t.Context(), "staging", api.EnvironmentUpdate{TLSSecrets: &[]string{"staging-tls"}}); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		e, err := c.GetEnvironment(t.Context(), "staging")
		st := e.Status
		if err == nil && st != nil && st.Gateway == api.GatewayReady && st.Image == "registry.berth.test/berth:1" &&
			len(st.TLSSecrets) == 1 && strings.Contains(st.TLSSecrets[0].Error, "not found in namespace shop-staging") {
			break
		}
		if i > 300 {
			t.Fatalf("the environment's status: %+v %v", st, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if err := c.DeleteApp(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := c.GetApp(t.Context(), "shop"); client.IsNotFound(err) {
			break
		}
		if i > 300 {
			t.Fatal("app not deleted within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	out, err = kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "deployments,services", "-l", "berth.dev/app=shop", "-o", "name")
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("objects left on the cluster after delete: %q %v", out, err)
	}
	// Removing the environment prunes its gateway; its token stops working.
	if err := c.RemoveEnvironment(t.Context(), "staging"); err != nil {
		t.Fatal(err)
	}
	kubectlEventually(t, kc, "the gateway pruned", "",
		"-n", "shop-staging", "get", "deployments,services,secrets", "-l", "berth.dev/role=gateway", "-o", "name")
	if _, err := gc.EnvGatewaySnapshot(t.Context(), "staging"); !client.IsUnauthorized(err) {
		t.Errorf("the token of a removed environment: %v", err)
	}
}

// kubectlEventually waits until kubectl's output holds want ("" : is empty).
func kubectlEventually(t *testing.T, kc *kubetest.Cluster, what, want string, args ...string) {
	t.Helper()
	for i := 0; ; i++ {
		out, err := kc.Kubectl(t.Context(), args...)
		got := strings.TrimSpace(string(out))
		if err == nil && ((want == "" && got == "") || (want != "" && strings.Contains(got, want))) {
			return
		}
		if i > 300 {
			t.Fatalf("%s: kubectl %s: %q %v", what, strings.Join(args, " "), got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startWithCluster starts a real control plane (kwok nodes) and a server
// that knows it as cluster "kwok", with environment env on namespace ns.
func startWithCluster(t *testing.T, env, ns string) (*client.Client, *kubetest.Cluster, string) {
	t.Helper()
	return startWithClusterOpts(t, env, ns, kubetest.Options{Nodes: 2})
}

// startWithClusterOpts is startWithCluster on a cluster started with opts.
func startWithClusterOpts(t *testing.T, env, ns string, opts kubetest.Options) (*client.Client, *kubetest.Cluster, string) {
	t.Helper()
	kc := kubetest.Start(t, opts)
	apiAddr := freeAddr(t)
	s := runInProcess(t, Config{
		DataDir: t.TempDir(), Listen: apiAddr, GatewayListen: freeAddr(t),
		AdvertiseURL: "http://" + apiAddr, ClusterGatewayImage: "registry.berth.test/berth:1",
	}, "")
	c := s.c
	admin, err := os.ReadFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddCluster(t.Context(), api.ClusterRequest{Name: "kwok", Kubeconfig: string(admin)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateEnvironment(t.Context(), api.EnvironmentRequest{Name: env, Cluster: "kwok", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	return c, kc, apiAddr
}
