package policy

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
)

// failingBackend is a real HTTP server whose behaviour the test switches:
// healthy, answering 500, hanging, or resetting the connection.
type failingBackend struct {
	mode atomic.Value // string
	hits atomic.Int64
	addr string
}

func newFailingBackend(t *testing.T, mode string) *failingBackend {
	t.Helper()
	b := &failingBackend{}
	b.mode.Store(mode)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		switch b.mode.Load().(string) {
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case "reset":
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // RST, not FIN
				}
				_ = conn.Close()
			}
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	t.Cleanup(s.Close)
	b.addr = strings.TrimPrefix(s.URL, "http://")
	return b
}

// TestBrokenBackendsThroughTheGateway runs the real gateway with the policy
// chain in front of three broken backends and one healthy one: each
// breaker opens, answers fast while open, bounds what reaches the backend,
// never touches the other routes, and closes once its backend heals.
func TestBrokenBackendsThroughTheGateway(t *testing.T) {
	t.Parallel()
	g := gateway.New(gateway.Options{
		Logger:      slog.New(slog.DiscardHandler),
		Metrics:     prometheus.NewRegistry(),
		Middlewares: Middlewares(Options{}),
	})
	t.Cleanup(func() { _ = g.Close() })
	srv := httptest.NewUnstartedServer(nil)
	srv.Config = g.NewServer()
	srv.Listener = g.Listener(srv.Listener)
	srv.Start()
	t.Cleanup(srv.Close)

	backends := map[string]*failingBackend{
		"errors":  newFailingBackend(t, "500"),
		"hangs":   newFailingBackend(t, "hang"),
		"resets":  newFailingBackend(t, "reset"),
		"healthy": newFailingBackend(t, "ok"),
	}
	const openFor = 400 * time.Millisecond
	var routes []gateway.Route
	for name, b := range backends {
		routes = append(routes, gateway.Route{
			ID: "app/" + name, App: "app", Service: name, Host: name + ".localhost", Path: "/",
			Tracks: []gateway.Track{{Name: gateway.TrackStable, Release: 1, Weight: 100,
				Endpoints: []gateway.Endpoint{{Addr: b.addr}}}},
			Policy: gateway.Policy{
				Timeout: 300 * time.Millisecond,
				Breaker: &gateway.BreakerPolicy{ConsecutiveFailures: 3, OpenFor: openFor},
			},
		})
	}
	if err := g.Load(gateway.Snapshot{Revision: 1, Routes: routes}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	get := func(host string) (int, string, time.Duration) {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/", nil)
		req.Host = host
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), time.Since(start)
	}

	for _, name := range []string{"errors", "hangs", "resets"} {
		b := backends[name]
		host := name + ".localhost"
		const requests = 40
		open := 0
		for i := 0; i < requests; i++ {
			code, body, took := get(host)
			if code == http.StatusServiceUnavailable && strings.Contains(body, "circuit open") {
				open++
				if took > 100*time.Millisecond {
					t.Errorf("%s: an open circuit took %v to answer", name, took)
				}
			} else if code < 500 {
				t.Fatalf("%s: got %d %q from a broken backend", name, code, body)
			}
		}
		// Only the failures that opened the circuit (plus retries the core
		// may make on a reset) reached the backend; the rest were refused.
		if hits := b.hits.Load(); hits > 9 || open < requests-9 {
			t.Errorf("%s: backend saw %d requests, %d of %d answered by the open circuit", name, hits, open, requests)
		}
		// The healthy route on the same gateway never noticed.
		for i := 0; i < 5; i++ {
			if code, body, _ := get("healthy.localhost"); code != 200 || body != "ok" {
				t.Fatalf("healthy route while %s is broken: %d %q", name, code, body)
			}
		}
		// The backend heals: after OpenFor a probe goes through and the
		// circuit closes.
		b.mode.Store("ok")
		deadline := time.Now().Add(5 * openFor)
		for {
			code, body, _ := get(host)
			if code == 200 && body == "ok" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %d %q after the backend healed", name, code, body)
			}
			time.Sleep(openFor / 4)
		}
		for i := 0; i < 10; i++ {
			if code, _, _ := get(host); code != 200 {
				t.Fatalf("%s: %d after recovery", name, code)
			}
		}
	}
}
