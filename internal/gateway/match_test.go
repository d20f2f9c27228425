package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRoutingPrecedence checks the documented order (docs/gateway.md):
// exact host > wildcard host (longer suffix first) > any host; then exact
// path > longer prefix; then more method/header conditions; then route ID.
func TestRoutingPrecedence(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	ep := "127.0.0.1:1"
	rt := func(id, host, path string) Route { return simpleRoute(id, host, path, ep) }
	exact := func(r Route) Route { r.PathType = PathExact; return r }
	methods := func(r Route, ms ...string) Route { r.Methods = ms; return r }
	header := func(r Route, k, v string) Route {
		r.Headers = append(r.Headers, HeaderMatch{Name: k, Value: v})
		return r
	}
	mustLoad(t, g,
		rt("root", "shop.example.com", "/"),
		rt("api", "shop.example.com", "/api"),
		rt("api-v1", "shop.example.com", "/api/v1/"),
		exact(rt("api-exact", "shop.example.com", "/api/v1/health")),
		methods(rt("api-post", "shop.example.com", "/api"), "post"),
		header(methods(rt("api-post-beta", "shop.example.com", "/api"), "POST"), "x-beta", "1"),
		rt("b-tie", "tie.example.com", "/"),
		rt("a-tie", "tie.example.com", "/"),
		rt("wild", "*.example.com", "/"),
		rt("wild-deep", "*.eu.example.com", "/"),
		rt("wild-api", "*.example.com", "/api"),
		rt("only", "api.example.com", "/only"),
		rt("any", "", "/fallback"),
		rt("any-star", "*", "/other"),
	)
	tests := []struct {
		desc, method, host, path string
		hdr                      map[string]string
		want                     string // route ID, "" for no route
	}{
		{desc: "root prefix", host: "shop.example.com", path: "/", want: "root"},
		{desc: "host with port", host: "shop.example.com:8080", path: "/x", want: "root"},
		{desc: "host case and trailing dot", host: "SHOP.Example.COM.", path: "/x", want: "root"},
		{desc: "longer prefix wins", host: "shop.example.com", path: "/api/items", want: "api"},
		{desc: "prefix equal to path", host: "shop.example.com", path: "/api", want: "api"},
		{desc: "prefix is per segment", host: "shop.example.com", path: "/apix", want: "root"},
		{desc: "trailing slash prefix", host: "shop.example.com", path: "/api/v1", want: "api-v1"},
		{desc: "deeper prefix", host: "shop.example.com", path: "/api/v1/users", want: "api-v1"},
		{desc: "exact beats prefix", host: "shop.example.com", path: "/api/v1/health", want: "api-exact"},
		{desc: "exact needs equality", host: "shop.example.com", path: "/api/v1/health/x", want: "api-v1"},
		{desc: "method condition", method: "POST", host: "shop.example.com", path: "/api/x", want: "api-post"},
		{desc: "more conditions first", method: "POST", host: "shop.example.com", path: "/api/x", hdr: map[string]string{"X-Beta": "1"}, want: "api-post-beta"},
		{desc: "header value must match", method: "POST", host: "shop.example.com", path: "/api/x", hdr: map[string]string{"X-Beta": "2"}, want: "api-post"},
		{desc: "dot segments resolved", host: "shop.example.com", path: "/static/../api/x", want: "api"},
		{desc: "double slash", host: "shop.example.com", path: "//api//x", want: "api"},
		{desc: "tie broken by id", host: "tie.example.com", path: "/", want: "a-tie"},
		{desc: "wildcard", host: "a.example.com", path: "/", want: "wild"},
		{desc: "wildcard spans labels", host: "a.b.example.com", path: "/", want: "wild"},
		{desc: "longer wildcard suffix", host: "x.eu.example.com", path: "/api", want: "wild-deep"},
		{desc: "wildcard path precedence", host: "a.example.com", path: "/api/1", want: "wild-api"},
		{desc: "exact host beats wildcard", host: "shop.example.com", path: "/", want: "root"},
		{desc: "exact host falls through to wildcard", host: "api.example.com", path: "/other", want: "wild"},
		{desc: "exact host path", host: "api.example.com", path: "/only/x", want: "only"},
		{desc: "wildcard needs a label", host: "example.com", path: "/", want: ""},
		{desc: "catch-all host", host: "whatever.test", path: "/fallback/x", want: "any"},
		{desc: "catch-all star", host: "whatever.test", path: "/other", want: "any-star"},
		{desc: "no route", host: "whatever.test", path: "/", want: ""},
	}
	tbl := g.table.Load()
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			m := tt.method
			if m == "" {
				m = http.MethodGet
			}
			req := httptest.NewRequest(m, "http://x"+tt.path, nil)
			req.Host = tt.host
			req.URL.Path = tt.path
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			got := ""
			if r := tbl.match(req); r != nil {
				got = r.id
			}
			if got != tt.want {
				t.Errorf("%s %s%s routed to %q, want %q", m, tt.host, tt.path, got, tt.want)
			}
		})
	}
}

// TestRoutingEndToEnd sends real requests through the gateway to real
// instances.
func TestRoutingEndToEnd(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	mustLoad(t, g,
		simpleRoute("a/0", "shop.localhost", "/", backend(t, "web", nil)),
		simpleRoute("a/1", "shop.localhost", "/api", backend(t, "api", nil)),
		simpleRoute("b/0", "*.example.com", "/", backend(t, "wild", nil)),
	)
	base := front(t, g)
	tests := []struct {
		desc, host, path string
		code             int
		want             string
	}{
		{desc: "root", host: "shop.localhost", path: "/", code: 200, want: "web shop.localhost /"},
		{desc: "api keeps path and host", host: "shop.localhost:9999", path: "/api/items?q=1", code: 200, want: "api shop.localhost:9999 /api/items"},
		{desc: "wildcard", host: "a.example.com", path: "/x", code: 200, want: "wild a.example.com /x"},
		{desc: "unknown host", host: "nope.localhost", path: "/x", code: 404, want: "berth gateway: no route for nope.localhost/x"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			r := do(t, http.MethodGet, base, tt.host, tt.path, nil, nil)
			if r.code != tt.code || !strings.Contains(r.body, tt.want) {
				t.Fatalf("got %d %q, want %d %q", r.code, r.body, tt.code, tt.want)
			}
		})
	}
}
