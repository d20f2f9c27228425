package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
)

// TestClusterCredentialsAtRest adds two real clusters, one with a service
// account's bearer token and one with a client certificate, and finds
// neither the token nor the private key in the SQLite file or its WAL.
// The health check opens them; one cluster's ciphertext moved into the
// other's row does not open there, and the health says so by name.
func TestClusterCredentialsAtRest(t *testing.T) {
	t.Parallel()
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1})
	ctx := context.Background()
	for _, args := range [][]string{
		{"create", "serviceaccount", "berth-probe", "-n", "default"},
		{"create", "clusterrolebinding", "berth-probe", "--clusterrole=cluster-admin", "--serviceaccount=default:berth-probe"},
	} {
		if out, err := kc.Kubectl(ctx, args...); err != nil {
			t.Fatalf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	out, err := kc.Kubectl(ctx, "create", "token", "berth-probe", "-n", "default")
	if err != nil {
		t.Fatalf("kubectl create token: %v: %s", err, out)
	}
	token := strings.TrimSpace(string(out))
	admin, err := os.ReadFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := clientcmd.Load(admin)
	if err != nil {
		t.Fatal(err)
	}
	// What must not be at rest: the token, and the admin's private key
	// as the stored kubeconfig would carry it (base64) and as PEM.
	leaks := map[string]string{"token": token}
	for name, u := range raw.AuthInfos {
		key := u.ClientKeyData
		if u.ClientKey != "" {
			if key, err = os.ReadFile(u.ClientKey); err != nil {
				t.Fatal(err)
			}
		}
		if len(key) > 0 {
			leaks["client key of "+name] = string(key)
			leaks["client key of "+name+" (base64)"] = base64.StdEncoding.EncodeToString(key)
		}
	}
	if len(leaks) < 3 || len(token) < 20 {
		t.Fatalf("the fixture has no private key or token to look for: %d, token %d bytes", len(leaks), len(token))
	}

	ts := newTestServer(t)
	for _, req := range []api.ClusterRequest{
		{Name: "tok", Kubeconfig: tokenKubeconfig(t, kc.Server, token)},
		{Name: "cert", Kubeconfig: string(admin)},
	} {
		var added api.Cluster
		ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/clusters", req, &added)
		if added.Health.Status != api.ClusterHealthy {
			t.Fatalf("%s: health %+v", req.Name, added.Health)
		}
	}
	// Read again from the store: the health check opens the envelopes.
	var list []api.Cluster
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/clusters", nil, &list)
	if len(list) != 2 || list[0].Health.Status != api.ClusterHealthy || list[1].Health.Status != api.ClusterHealthy {
		t.Fatalf("list: %+v", list)
	}

	envelopes := 0
	for _, name := range []string{"berth.db", "berth.db-wal"} {
		b, err := os.ReadFile(filepath.Join(ts.dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		envelopes += bytes.Count(b, []byte("bsec1:"))
		for what, s := range leaks {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the %s", name, what)
			}
		}
	}
	if envelopes < 2 {
		t.Errorf("found %d envelopes in the database files, want the two clusters' (read the wrong files?)", envelopes)
	}

	// tok's ciphertext in cert's row: it does not open as cert's.
	row, err := ts.db.ClusterCredentials(ctx, "tok")
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.db.SetClusterCredentials(ctx, "cert", row); err != nil {
		t.Fatal(err)
	}
	var got api.Cluster
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/clusters/cert", nil, &got)
	if got.Health.Status != api.ClusterError || !strings.Contains(got.Health.Message, `cluster "cert"`) ||
		!strings.Contains(got.Health.Message, "does not decrypt") {
		t.Errorf("moved ciphertext: health %+v, want an error naming cluster cert", got.Health)
	}
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/clusters/tok", nil, &got)
	if got.Health.Status != api.ClusterHealthy {
		t.Errorf("the original after the move: %+v", got.Health)
	}
}
