package local

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/spec"
)

func TestChecker(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(srv.Close)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	// The timeout cases wait 200 ms; the others get seconds, so a loaded
	// machine (sh taking a while to start) cannot make them time out.
	short, long := spec.Duration(200*time.Millisecond), spec.Duration(5*time.Second)
	tests := []struct {
		desc string
		h    spec.Health
		port int
		want string // "" passes; else the message holds it
		name string // what describe() says
	}{
		{desc: "http 2xx", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/ok"}}, port: port, name: "GET /ok"},
		{desc: "http 3xx passes unfollowed", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/redirect"}}, port: port},
		{desc: "http 500", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/healthz"}}, port: port, want: "500", name: "GET /healthz"},
		{desc: "http timeout", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/slow"}}, port: port, want: "timed out"},
		{desc: "http refused", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/"}}, port: closedPort, want: "connection refused"},
		{desc: "http on its own port", h: spec.Health{HTTP: &spec.HTTPCheck{Path: "/ok", Port: port}}, port: closedPort, name: "GET :" + strconv.Itoa(port) + "/ok"},
		{desc: "tcp open", h: spec.Health{TCP: &spec.TCPCheck{}}, port: port, name: "tcp :" + strconv.Itoa(port)},
		{desc: "tcp closed", h: spec.Health{TCP: &spec.TCPCheck{}}, port: closedPort, want: "connection refused"},
		{desc: "exec ok", h: spec.Health{Exec: &spec.ExecCheck{Command: []string{"sh", "-c", "exit 0"}}}},
		{desc: "exec fails", h: spec.Health{Exec: &spec.ExecCheck{Command: []string{"sh", "-c", "echo not ready; exit 1"}}}, want: "exit status 1: not ready", name: "exec sh -c"},
		{desc: "exec timeout kills", h: spec.Health{Exec: &spec.ExecCheck{Command: []string{"sh", "-c", "sleep 5"}}}, want: "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			tc.h.Timeout = long
			if strings.Contains(tc.want, "timed out") {
				tc.h.Timeout = short
			}
			c := newChecker(tc.h, tc.port, t.TempDir(), []string{"PATH=/usr/bin:/bin"})
			start := time.Now()
			err := c.check(t.Context())
			if took := time.Since(start); took > tc.h.Timeout.D()+2*time.Second {
				t.Errorf("check took %s with a %s timeout", took, tc.h.Timeout.D())
			}
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("check failed: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("check error %v, want one containing %q", err, tc.want)
			}
			if tc.name != "" && !strings.HasPrefix(c.describe(), tc.name) {
				t.Errorf("describe() = %q, want %q", c.describe(), tc.name)
			}
		})
	}
}
