package gateway

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// newTestGateway returns a gateway with a private metrics registry,
// closed when the test ends.
func newTestGateway(t testing.TB, opts Options) *Gateway {
	t.Helper()
	if opts.Metrics == nil {
		opts.Metrics = prometheus.NewRegistry()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g := New(opts)
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// front serves g on loopback with the gateway's own server settings.
func front(t testing.TB, g *Gateway) string {
	t.Helper()
	s := httptest.NewUnstartedServer(nil)
	s.Config = g.NewServer()
	s.Listener = g.Listener(s.Listener)
	s.Start()
	t.Cleanup(s.Close)
	return s.URL
}

// backend starts an instance that answers with its name, the host and
// path it saw; h, when given, answers instead.
func backend(t testing.TB, name string, h http.HandlerFunc) string {
	t.Helper()
	if h == nil {
		h = func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name+" "+r.Host+" "+r.URL.Path)
		}
	}
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

// simpleRoute routes host+path to one stable track of endpoints.
func simpleRoute(id, host, path string, addrs ...string) Route {
	r := Route{ID: id, App: "app", Service: "web", Host: host, Path: path,
		Tracks: []Track{{Name: TrackStable, Release: 1, Weight: 100}}}
	for _, a := range addrs {
		r.Tracks[0].Endpoints = append(r.Tracks[0].Endpoints, Endpoint{Addr: a})
	}
	return r
}

func mustLoad(t testing.TB, g *Gateway, routes ...Route) {
	t.Helper()
	if err := g.Load(Snapshot{Revision: 1, Routes: routes}); err != nil {
		t.Fatal(err)
	}
}

var testClient = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

type resp struct {
	code   int
	body   string
	header http.Header
}

// do sends one request through the gateway at base with Host host.
func do(t testing.TB, method, base, host, path string, hdr http.Header, body io.Reader) resp {
	t.Helper()
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := testClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s%s: %v", method, host, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s%s: read body: %v", method, host, path, err)
	}
	return resp{code: res.StatusCode, body: string(b), header: res.Header}
}
