package api

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
)

// TestClusters adds a real cluster (a kubetest control plane with two
// kwok nodes), reads its health, refuses bad input, unreachable clusters
// and bad credentials with errors naming the cluster and the cause, and
// never sends credentials back.
func TestClusters(t *testing.T) {
	t.Parallel()
	kc := kubetest.Start(t, kubetest.Options{Nodes: 2})
	admin, err := os.ReadFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestServer(t)

	var added api.Cluster
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/clusters", api.ClusterRequest{Name: "kwok", Kubeconfig: string(admin)}, &added)
	h := added.Health
	if h.Status != api.ClusterHealthy || h.Version != kubetest.KubeVersion || h.Nodes != 2 || h.ReadyNodes != 2 || h.AllocatableCPU == "" || h.AllocatablePods == 0 {
		t.Fatalf("added cluster %+v", added)
	}
	if added.Server != kc.Server {
		t.Errorf("server %q, want %q", added.Server, kc.Server)
	}

	// Credentials never come back: not in add, show or list answers.
	raw, err := clientcmd.Load(admin)
	if err != nil {
		t.Fatal(err)
	}
	var secrets []string
	for _, u := range raw.AuthInfos {
		secrets = append(secrets, string(u.ClientKeyData), u.Token)
		if u.ClientKey != "" {
			b, err := os.ReadFile(u.ClientKey)
			if err != nil {
				t.Fatal(err)
			}
			secrets = append(secrets, string(b))
		}
	}
	for _, path := range []string{"/api/v1/clusters", "/api/v1/clusters/kwok"} {
		status, body := ts.call(t, "GET", path, nil)
		if status != http.StatusOK || !strings.Contains(string(body), `"status": "healthy"`) {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(string(body), strings.TrimSpace(s)) {
				t.Fatalf("GET %s returned credentials", path)
			}
		}
		for _, word := range []string{"client-key", "PRIVATE KEY", "token"} {
			if strings.Contains(string(body), word) {
				t.Errorf("GET %s mentions %q: %s", path, word, body)
			}
		}
	}
	// Stored sealed; opened: only the chosen context, certificates inlined.
	row, err := ts.db.ClusterCredentials(context.Background(), "kwok")
	if err != nil || !strings.HasPrefix(string(row), "bsec1:") || strings.Contains(string(row), "client-key-data") {
		t.Fatalf("stored credentials are not an envelope: %v", err)
	}
	creds, err := ts.srv.Clusters.ClusterCredentials(context.Background(), "kwok")
	if err != nil || !strings.Contains(string(creds), "client-key-data") {
		t.Fatalf("opened credentials: %v (inlined key: %v)", err, strings.Contains(string(creds), "client-key-data"))
	}

	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	for _, c := range []struct {
		desc  string
		req   api.ClusterRequest
		field string
		want  []string
	}{
		{"bad name", api.ClusterRequest{Name: "Prod!", Kubeconfig: string(admin)}, "name", []string{"not a cluster name"}},
		{"no kubeconfig", api.ClusterRequest{Name: "x"}, "kubeconfig", []string{"required"}},
		{"not a kubeconfig", api.ClusterRequest{Name: "x", Kubeconfig: "{{{"}, "kubeconfig", []string{"bad kubeconfig"}},
		{"unknown context", api.ClusterRequest{Name: "x", Kubeconfig: string(admin), Context: "nope"}, "context", []string{`context "nope" not found`}},
		{"unreachable", api.ClusterRequest{Name: "gone", Kubeconfig: tokenKubeconfig(t, "https://"+closed, "t")}, "kubeconfig",
			[]string{"cluster gone", "cluster unreachable", "connection refused"}},
		{"bad credentials", api.ClusterRequest{Name: "wrongtoken", Kubeconfig: tokenKubeconfig(t, kc.Server, "not-a-real-token")}, "kubeconfig",
			[]string{"cluster wrongtoken", "refused the credentials", "401"}},
	} {
		t.Run(c.desc, func(t *testing.T) {
			status, body := ts.call(t, "POST", "/api/v1/clusters", c.req)
			e := decodeError(t, body)
			if status != http.StatusUnprocessableEntity || len(e.Details) == 0 || e.Details[0].Field != c.field {
				t.Fatalf("status %d, error %+v; want 422 on field %s", status, e, c.field)
			}
			for _, w := range c.want {
				if !strings.Contains(e.Message, w) {
					t.Errorf("message %q lacks %q", e.Message, w)
				}
			}
			if strings.Contains(e.Message, "not-a-real-token") {
				t.Errorf("the error shows the token: %s", e.Message)
			}
			if _, err := ts.db.GetCluster(context.Background(), c.req.Name); err == nil {
				t.Error("a refused cluster was stored")
			}
		})
	}

	status, body := ts.call(t, "POST", "/api/v1/clusters", api.ClusterRequest{Name: "kwok", Kubeconfig: string(admin)})
	if status != http.StatusConflict || !strings.Contains(string(body), "already exists") {
		t.Errorf("second add: %d %s", status, body)
	}

	// A stored cluster that goes away is reported unreachable, by name.
	other := kubetest.Start(t, kubetest.Options{Nodes: 1, Name: "goes-away"})
	otherCfg, err := os.ReadFile(other.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/clusters", api.ClusterRequest{Name: "second", Kubeconfig: string(otherCfg)}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := other.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var list []api.Cluster
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/clusters", nil, &list)
	if len(list) != 2 || list[0].Name != "kwok" || list[0].Health.Status != api.ClusterHealthy ||
		list[1].Name != "second" || list[1].Health.Status != api.ClusterUnreachable || !strings.Contains(list[1].Health.Message, "cluster second") {
		t.Fatalf("list after the second cluster stopped: %+v", list)
	}

	ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/clusters/second", nil, nil)
	ts.mustCall(t, http.StatusNotFound, "DELETE", "/api/v1/clusters/second", nil, nil)
	ts.mustCall(t, http.StatusNotFound, "GET", "/api/v1/clusters/second", nil, nil)
	if _, err := ts.db.ClusterCredentials(context.Background(), "second"); err == nil {
		t.Error("credentials outlived the cluster")
	}
}

// tokenKubeconfig is a kubeconfig with a bearer token, not verifying TLS
// (the server's certificate is not what these cases test).
func tokenKubeconfig(t *testing.T, server, token string) string {
	t.Helper()
	return `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "` + server + `", insecure-skip-tls-verify: true}
users:
- name: u
  user: {token: "` + token + `"}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
`
}
