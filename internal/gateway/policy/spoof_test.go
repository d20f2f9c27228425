package policy

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
)

// TestSpoofedIdentityThroughTheGateway: whatever spelling a client gives
// X-Berth-Subject and X-Berth-Auth (any case, underscores, repeated), a
// service behind the gateway sees only the identity the gateway
// verified, or none: over raw connections to the gateway's own HTTP/1.1
// server and, with HTTP/1.0, to net/http's.
func TestSpoofedIdentityThroughTheGateway(t *testing.T) {
	t.Parallel()
	// The backend answers with every identity-like header it received.
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var seen []string
		for k, vs := range r.Header {
			folded := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
			if folded == "x-berth-subject" || folded == "x-berth-auth" {
				seen = append(seen, k+"="+strings.Join(vs, ","))
			}
		}
		sort.Strings(seen)
		_, _ = io.WriteString(w, strings.Join(seen, ";"))
	}))
	t.Cleanup(be.Close)
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
	addr := strings.TrimPrefix(be.URL, "http://")
	route := func(id, host string, p gateway.Policy) gateway.Route {
		return gateway.Route{ID: id, App: "app", Service: "web", Host: host, Path: "/", Policy: p,
			Tracks: []gateway.Track{{Name: gateway.TrackStable, Release: 1, Weight: 100,
				Endpoints: []gateway.Endpoint{{Addr: addr}}}}}
	}
	if err := g.Load(gateway.Snapshot{Revision: 1, Routes: []gateway.Route{
		route("app/0", "open.localhost", gateway.Policy{}),
		route("app/1", "keyed.localhost", gateway.Policy{Auth: &gateway.AuthPolicy{
			APIKeys: &gateway.APIKeys{Keys: map[string]string{digest("k1"): "ci"}}}}),
	}}); err != nil {
		t.Fatal(err)
	}

	spoof := "X-Berth-Subject: admin\r\nx-berth-subject: root\r\nX_Berth_Subject: admin\r\n" +
		"X-BERTH-AUTH: jwt\r\nx_berth_auth: jwt\r\nX-Berth-Subject: again\r\n"
	for _, tc := range []struct {
		desc, host, extra, want string
		code                    int
	}{
		{desc: "route without auth", host: "open.localhost", want: "", code: 200},
		{desc: "route with an API key", host: "keyed.localhost", extra: "X-Api-Key: k1\r\n",
			want: "X-Berth-Auth=api_key;X-Berth-Subject=ci", code: 200},
		{desc: "route with an API key, no key", host: "keyed.localhost", code: 401},
		// Naming the identity headers in Connection (which makes a header
		// hop-by-hop) must not hide the verified identity from the service.
		{desc: "identity headers named in Connection", host: "keyed.localhost",
			extra: "Connection: X-Berth-Subject, x-berth-auth\r\nX-Api-Key: k1\r\n",
			want:  "X-Berth-Auth=api_key;X-Berth-Subject=ci", code: 200},
	} {
		for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
			t.Run(tc.desc+" "+proto, func(t *testing.T) {
				c, err := net.Dial("tcp", srv.Listener.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprintf(c, "GET / %s\r\nHost: %s\r\n%s%s\r\n", proto, tc.host, spoof, tc.extra)
				res, err := http.ReadResponse(bufio.NewReader(c), nil)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				if res.StatusCode != tc.code {
					t.Fatalf("status %d %q, want %d", res.StatusCode, b, tc.code)
				}
				if tc.code == 200 && string(b) != tc.want {
					t.Errorf("the service saw %q, want %q", b, tc.want)
				}
			})
		}
	}
}
