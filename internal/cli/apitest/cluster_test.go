package apitest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
)

// berth cluster add/list/show/remove against the API and a real control
// plane; bad input exits 2 and changes nothing, an unreachable cluster is
// refused with its name and the cause.
func TestClusterCommands(t *testing.T) {
	t.Parallel()
	kc := kubetest.Start(t, kubetest.Options{Nodes: 2})
	e := newEnv(t)
	e.must(0, []string{"login", e.url, "--token", e.token})

	e.must(2, []string{"cluster", "add", "prod"}, "--kubeconfig FILE is required")
	e.must(2, []string{"cluster", "add", "prod", "--kubeconfig", filepath.Join(t.TempDir(), "nope")}, "no such file")
	e.must(2, []string{"cluster", "add", "prod", "--kubeconfig", kc.Kubeconfig, "--kube-context", "nope"}, `context "nope" not found`)
	dead := filepath.Join(t.TempDir(), "dead.yaml")
	if err := os.WriteFile(dead, []byte(strings.ReplaceAll(mustRead(t, kc.Kubeconfig), kc.Server, "https://127.0.0.1:1")), 0o600); err != nil {
		t.Fatal(err)
	}
	e.must(2, []string{"cluster", "add", "dead", "--kubeconfig", dead}, "cluster dead", "unreachable")
	e.must(0, []string{"cluster", "list"}, "No clusters yet")

	e.must(0, []string{"cluster", "add", "prod", "--kubeconfig", kc.Kubeconfig},
		"Status: healthy", "Version: "+kubetest.KubeVersion, "Nodes: 2 ready of 2")
	e.must(1, []string{"cluster", "add", "prod", "--kubeconfig", kc.Kubeconfig}, "already exists")
	e.must(0, []string{"cluster", "list"}, "prod healthy "+kubetest.KubeVersion+" 2/2")
	res := e.must(0, []string{"cluster", "show", "prod", "-o", "json"})
	var c api.Cluster
	if err := json.Unmarshal([]byte(res.stdout), &c); err != nil || c.Health.AllocatablePods == 0 || c.Server != kc.Server {
		t.Fatalf("show -o json: %v %+v", err, c)
	}

	// Environments name a cluster and a namespace.
	e.must(2, []string{"env", "create", "staging", "--namespace", "shop"}, "--cluster is required")
	e.must(2, []string{"env", "create", "staging", "--cluster", "nope", "--namespace", "shop"}, `no cluster named "nope"`)
	e.must(2, []string{"env", "create", "staging", "--cluster", "prod", "--namespace", "Shop_1"}, "namespace", "not a Kubernetes namespace name")
	e.must(2, []string{"env", "create", "staging", "--cluster", "prod", "--namespace", "shop-staging", "--team", "nope"}, "team", `"nope" is not a team you may manage environments in`)
	e.must(2, []string{"env", "create", "staging", "--cluster", "prod", "--namespace", "shop-staging", "--routing", "ingress"}, "routing", `"ingress" is not a routing mode`)
	e.must(2, []string{"env", "create", "staging", "--cluster", "prod", "--namespace", "shop-staging", "--routing", "gateway-api"}, "gateway_parent", "required with routing gateway-api")
	e.must(0, []string{"env", "create", "staging", "--cluster", "prod", "--namespace", "shop-staging"}, "Created environment staging in team default: cluster prod, namespace shop-staging.")
	e.must(1, []string{"env", "create", "again", "--cluster", "prod", "--namespace", "shop-staging"}, "already exists")
	e.must(0, []string{"env", "list"}, "staging default prod shop-staging -")
	e.must(0, []string{"env", "show", "staging"}, "Team: default", "Namespace: shop-staging", "Routing: gateway")
	e.must(1, []string{"cluster", "remove", "prod"}, "used by environments staging")
	e.must(0, []string{"env", "remove", "staging"}, "Removed environment staging")
	e.must(1, []string{"env", "show", "staging"}, `environment "staging" not found`)

	e.must(0, []string{"cluster", "remove", "prod"}, "Removed cluster prod")
	e.must(1, []string{"cluster", "show", "prod"}, `cluster "prod" not found; see "berth cluster list"`)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
