package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func backend(t *testing.T, name string) string {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, name+" "+r.Host+" "+r.URL.Path)
	}))
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func TestRouting(t *testing.T) {
	t.Parallel()
	g := New(slog.New(slog.DiscardHandler))
	g.Update([]Route{
		{App: "a", Host: "shop.localhost", Path: "/", Backend: backend(t, "web")},
		{App: "a", Host: "shop.localhost", Path: "/api", Backend: backend(t, "api")},
		{App: "b", Host: "*.example.com", Path: "/", Backend: backend(t, "wild")},
		{App: "c", Host: "*.b.example.com", Path: "/", Backend: backend(t, "deeper")},
	})
	front := httptest.NewServer(g)
	t.Cleanup(front.Close)

	tests := []struct {
		desc, host, path string
		code             int
		want             string
	}{
		{desc: "root", host: "shop.localhost", path: "/", code: 200, want: "web shop.localhost /"},
		{desc: "host with port", host: "shop.localhost:8080", path: "/x", code: 200, want: "web"},
		{desc: "longest prefix", host: "shop.localhost", path: "/api/items", code: 200, want: "api"},
		{desc: "prefix is per segment", host: "shop.localhost", path: "/apix", code: 200, want: "web"},
		{desc: "exact prefix", host: "shop.localhost", path: "/api", code: 200, want: "api"},
		{desc: "case-insensitive host", host: "SHOP.localhost", path: "/", code: 200, want: "web"},
		{desc: "wildcard", host: "a.example.com", path: "/", code: 200, want: "wild"},
		{desc: "most specific wildcard", host: "x.b.example.com", path: "/", code: 200, want: "deeper"},
		{desc: "wildcard needs a label", host: "example.com", path: "/", code: 404, want: "no route"},
		{desc: "unknown host", host: "nope.localhost", path: "/", code: 404, want: "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, front.URL+tt.path, nil)
			req.Host = tt.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.want) {
				t.Fatalf("got %d %q, want %d containing %q", resp.StatusCode, b, tt.code, tt.want)
			}
		})
	}
}

func TestBackendDown(t *testing.T) {
	t.Parallel()
	g := New(slog.New(slog.DiscardHandler))
	g.Update([]Route{{App: "a", Host: "down.localhost", Path: "/", Backend: "127.0.0.1:1"}})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "http://down.localhost/", nil)
	g.ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("code %d, want 502", rec.Code)
	}
}
