package api

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestEnvironmentRouting: the routing mode is validated with field names
// and kept; an environment's gateway token reads that environment's route
// feed and nothing else, and stops working with its environment.
func TestEnvironmentRouting(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		desc  string
		req   api.EnvironmentRequest
		field string
	}{
		{"unknown mode", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", Routing: "ingress"}, "routing"},
		{"gateway-api without a Gateway", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", Routing: "gateway-api"}, "gateway_parent"},
		{"a Gateway for Berth's own gateway", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", GatewayParent: "gw"}, "gateway_parent"},
		{"a bad Gateway name", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", Routing: "gateway-api", GatewayParent: "infra/Edge"}, "gateway_parent"},
		// TLS Secrets (envtls.go): DNS labels, each once, not the token's, for Berth's gateway only.
		{"a TLS Secret not a DNS label", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", TLSSecrets: []string{"Shop_TLS"}}, "tls_secrets[0]"},
		{"a TLS Secret named twice", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", TLSSecrets: []string{"x", "y", "x"}}, "tls_secrets[2]"},
		{"the token's Secret as TLS", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", TLSSecrets: []string{"berth-gateway"}}, "tls_secrets[0]"},
		{"TLS Secrets with gateway-api", api.EnvironmentRequest{Name: "a", Cluster: "eu", Namespace: "a", Routing: "gateway-api", GatewayParent: "gw", TLSSecrets: []string{"x"}}, "tls_secrets"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			status, body := ts.call(t, "POST", "/api/v1/envs", c.req)
			if e := decodeError(t, body); status != http.StatusUnprocessableEntity || e.Details[0].Field != c.field {
				t.Errorf("status %d %+v, want 422 on %s", status, e, c.field)
			}
		})
	}
	if es, _ := ts.db.ListEnvironments(ctx); len(es) != 0 {
		t.Fatalf("refused requests stored %+v", es)
	}
	var staging, prod api.Environment
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "staging", Cluster: "eu", Namespace: "shop"}, &staging)
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "prod", Cluster: "eu", Namespace: "shop-prod",
		Routing: "gateway-api", GatewayParent: "infra/edge"}, &prod)
	if staging.Routing != "gateway" || prod.Routing != "gateway-api" || prod.GatewayParent != "infra/edge" {
		t.Fatalf("environments %+v %+v", staging, prod)
	}

	// shop runs in staging, blog locally; both serve a route.
	image := "services:\n  web: {image: 'registry.example/x:1', command: [./web], ports: [8080]}\nroutes:\n  - {host: HOST, service: web}\n"
	ts.mustCall(t, http.StatusOK, "POST", "/api/v1/apply", api.ApplyRequest{Spec: "name: shop\n" + strings.ReplaceAll(image, "HOST", "shop.example"), Env: "staging"}, nil)
	ts.mustCall(t, http.StatusOK, "POST", "/api/v1/apply", api.ApplyRequest{Spec: "name: blog\n" + strings.ReplaceAll(image, "HOST", "blog.localhost")}, nil)
	for app, host := range map[string]string{"shop": "10.0.3.7", "blog": ""} {
		a, err := ts.db.GetApp(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		a.Status = api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
			Name: "web", Instances: []api.Instance{{ID: app + "-1", Release: 1, Ready: true, Host: host, Port: 8080}},
		}}}
		if _, err := ts.db.UpdateApp(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	hosts := func(s api.GatewaySnapshot) []string {
		var out []string
		for _, r := range s.Routes {
			for _, tr := range r.Tracks {
				for _, e := range tr.Endpoints {
					out = append(out, r.Host+"="+e.Addr)
				}
			}
		}
		return out
	}
	var snap api.GatewaySnapshot
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/gateway/snapshot", nil, &snap)
	if got := hosts(snap); len(got) != 1 || got[0] != "blog.localhost=127.0.0.1:8080" {
		t.Errorf("the local feed: %v", got)
	}
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/gateway/snapshot?env=staging", nil, &snap)
	if got := hosts(snap); len(got) != 1 || got[0] != "shop.example=10.0.3.7:8080" {
		t.Errorf("staging's feed: %v", got)
	}
	ts.mustCall(t, http.StatusUnprocessableEntity, "GET", "/api/v1/gateway/snapshot?env=Bad_Name", nil, nil)

	// staging's gateway token, as the routing reconciler makes it.
	env, err := ts.db.GetEnvironment(ctx, "staging")
	if err != nil {
		t.Fatal(err)
	}
	tok, st, err := token.New(token.KindGateway, rbac.ScopeRead, time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.db.CreateToken(ctx, store.Token{ID: "tok_gw", Name: "staging", Kind: string(st.Kind), Team: env.Team,
		Scope: string(st.Scope), Hash: st.Hash, Last4: st.Last4, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	as := func(method, path string) (int, []byte) {
		resp := ts.do(t, method, path, nil, map[string]string{"Authorization": "Bearer " + tok})
		return resp.StatusCode, readAll(t, resp)
	}
	if status, body := as("GET", "/api/v1/gateway/snapshot?env=staging"); status != http.StatusOK || !bytes.Contains(body, []byte("10.0.3.7:8080")) || bytes.Contains(body, []byte("blog")) {
		t.Errorf("gateway token, its environment: %d %s", status, body)
	}
	for _, path := range []string{
		"/api/v1/gateway/snapshot", "/api/v1/gateway/snapshot?env=prod", "/api/v1/apps/shop", "/api/v1/envs/staging",
		"/api/v1/apps/shop/secrets", "/api/v1/clusters",
	} {
		if status, body := as("GET", path); status != http.StatusNotFound && status != http.StatusForbidden {
			t.Errorf("gateway token, GET %s: %d %s, want 404 (or 403)", path, status, body)
		}
	}
	if status, body := as("GET", "/api/v1/apps"); status == http.StatusOK && bytes.Contains(body, []byte("shop")) {
		t.Errorf("gateway token lists apps: %s", body)
	}

	// Gone with its environment.
	ts.mustCall(t, http.StatusAccepted, "DELETE", "/api/v1/apps/shop", nil, nil)
	if err := ts.db.DeleteApp(ctx, "shop"); err != nil { // the reconciler's part
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/envs/staging", nil, nil)
	if status, body := as("GET", "/api/v1/gateway/snapshot?env=staging"); status != http.StatusUnauthorized {
		t.Errorf("gateway token of a removed environment: %d %s", status, body)
	}
}
