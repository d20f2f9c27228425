package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestEnvironmentTLSSecrets: TLS Secret names are kept as given (a bad
// one is refused by field on create, see TestEnvironmentRouting, and on
// update, changing nothing); an update
// replaces the list, [] removes it, a missing field keeps it; the
// environment's page carries the status the reconciler recorded.
func TestEnvironmentTLSSecrets(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	var e api.Environment
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "prod", Cluster: "eu", Namespace: "shop",
		TLSSecrets: []string{"shop-tls", "api-tls"}}, &e)
	if !slices.Equal(e.TLSSecrets, []string{"shop-tls", "api-tls"}) {
		t.Fatalf("created %+v", e)
	}
	status, body := ts.call(t, "PATCH", "/api/v1/envs/prod", api.EnvironmentUpdate{TLSSecrets: &[]string{"ok", "Not-OK"}})
	if err := decodeError(t, body); status != http.StatusUnprocessableEntity || err.Details[0].Field != "tls_secrets[1]" {
		t.Errorf("bad update: %d %+v", status, err)
	}
	update := func(req api.EnvironmentUpdate, want ...string) {
		t.Helper()
		var got api.Environment
		ts.mustCall(t, http.StatusOK, "PATCH", "/api/v1/envs/prod", req, &got)
		stored, err := ts.db.GetEnvironment(ctx, "prod")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.TLSSecrets, want) || stored.TLSSecrets != strings.Join(want, ",") {
			t.Errorf("after %+v: answered %v, stored %q; want %v", req, got.TLSSecrets, stored.TLSSecrets, want)
		}
	}
	update(api.EnvironmentUpdate{}, "shop-tls", "api-tls") // the refused update and an empty one change nothing
	update(api.EnvironmentUpdate{TLSSecrets: &[]string{"new-tls"}}, "new-tls")
	update(api.EnvironmentUpdate{TLSSecrets: &[]string{}})

	// The reconciler's findings show on the environment's page, not in the list.
	st := api.EnvironmentStatus{Gateway: api.GatewayDegraded, Replicas: 2, Problems: []string{"the gateway image x cannot be pulled"}, CheckedAt: time.Now().UTC()}
	if err := ts.db.SetEnvironmentStatus(ctx, "prod", st); err != nil {
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/envs/prod", nil, &e)
	if e.Status == nil || e.Status.Gateway != api.GatewayDegraded || !slices.Equal(e.Status.Problems, st.Problems) {
		t.Errorf("status on the page: %+v", e.Status)
	}
	var list []api.Environment
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/envs", nil, &list)
	if len(list) != 1 || list[0].Status != nil {
		t.Errorf("list %+v", list)
	}
	if status, _ := ts.call(t, "PATCH", "/api/v1/envs/nope", api.EnvironmentUpdate{}); status != http.StatusNotFound {
		t.Errorf("update of a missing environment: %d", status)
	}
}
