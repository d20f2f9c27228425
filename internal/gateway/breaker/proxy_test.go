package breaker

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// Against real servers: a reverse proxy in front of a backend that goes
// away. The proxy's 502s open the circuit, the gateway then answers 503 at
// once, and when the backend is back a probe closes the circuit again.
func TestReverseProxyToDeadBackend(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens: every dial is refused

	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: addr})
	proxy.ErrorLog = nil
	proxy.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) }
	h, err := New(t.Context(), proxy, gateway.BreakerPolicy{ConsecutiveFailures: 3, OpenFor: 200 * time.Millisecond}, WithRoute("shop/0"))
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()

	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(front.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for range 3 {
		if code, _ := get(); code != http.StatusBadGateway {
			t.Fatalf("status %d, want 502 from the proxy", code)
		}
	}
	code, body := get()
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "circuit open for route shop/0: 3 consecutive failures") {
		t.Fatalf("open circuit answered %d %q", code, body)
	}

	// The backend comes back on the same address.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("could not listen on %s again: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	time.Sleep(250 * time.Millisecond) // past OpenFor
	if code, body := get(); code != http.StatusOK || body != "ok" {
		t.Fatalf("probe answered %d %q, want 200 ok", code, body)
	}
	if s := h.(Metrics).State(); s != StateClosed {
		t.Errorf("State() = %q after a good probe, want closed", s)
	}
}
