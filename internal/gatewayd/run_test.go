package gatewayd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	internalapi "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// controlPlane is the real API over a real SQLite file, on an address it
// keeps across stop and start.
type controlPlane struct {
	t       *testing.T
	db      *sqlite.DB
	token   string
	addr    string
	handler http.Handler
	changes *internalapi.Broadcaster
	srv     *httptest.Server
}

func newControlPlane(t *testing.T) *controlPlane {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := internalapi.EnsureAdminToken(ctx, db, dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, internalapi.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	cp := &controlPlane{t: t, db: db, token: strings.TrimSpace(string(raw)), changes: internalapi.NewBroadcaster()}
	cp.handler = internalapi.New(internalapi.Deps{Store: db, Changes: cp.changes, WatchPoll: 50 * time.Millisecond, Heartbeat: 200 * time.Millisecond})
	cp.start()
	t.Cleanup(cp.stop)
	return cp
}

func (cp *controlPlane) start() {
	cp.t.Helper()
	addr := cp.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		cp.t.Fatal(err)
	}
	cp.addr = ln.Addr().String()
	cp.srv = httptest.NewUnstartedServer(cp.handler)
	cp.srv.Listener = ln
	cp.srv.Start()
}

// stop drops every connection at once, like a crash.
func (cp *controlPlane) stop() {
	if cp.srv != nil {
		cp.srv.CloseClientConnections()
		cp.srv.Close()
		cp.srv = nil
	}
}

// serve makes release rel of app "shop" serve greeting on its route, from
// a new instance, and records the change as the reconciler would: the app
// and an event in one transaction.
func (cp *controlPlane) serve(rel int, greeting string, sp spec.App) {
	cp.t.Helper()
	inst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s subject=%q", greeting, r.Header.Get("X-Berth-Subject"))
	}))
	cp.t.Cleanup(inst.Close)
	host, portStr, _ := net.SplitHostPort(inst.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)
	specJSON, _ := json.Marshal(sp)
	ctx := context.Background()
	now := time.Now().UTC()
	err := cp.db.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, "shop")
		if err != nil {
			a = store.App{Name: "shop", CreatedAt: now}
			if err := tx.CreateApp(ctx, a); err != nil {
				return err
			}
		}
		if err := tx.CreateRelease(ctx, store.Release{App: "shop", Number: rel, Spec: specJSON, State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		a.LatestRelease, a.TargetRelease, a.UpdatedAt = rel, rel, now
		a.Status = api.AppStatus{Release: rel, Serving: rel, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
			Name: "web", Instances: []api.Instance{{ID: "web-" + strconv.Itoa(rel), Release: rel, Ready: true, Host: host, Port: port}},
		}}}
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: "shop", Release: rel, Time: now})
		return err
	})
	if err != nil {
		cp.t.Fatal(err)
	}
	cp.changes.Poke()
}

func shopSpec(route spec.Route) spec.App {
	route.Host, route.Path, route.Service = "shop.localhost", "/", "web"
	return spec.App{Name: "shop", Routes: []spec.Route{route}}
}

// running is one Run in the background.
type running struct {
	cfg  Config
	log  *syncBuffer
	stop context.CancelFunc
	done chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startGateway(t *testing.T, cp *controlPlane, stateFile string, mod ...func(*Config)) *running {
	t.Helper()
	r := &running{log: &syncBuffer{}, done: make(chan error, 1)}
	r.cfg = Config{
		Server: "http://" + cp.addr, Token: cp.token, Listen: freeAddr(t), MetricsListen: freeAddr(t), StateFile: stateFile,
		Logger:   slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond, StartTimeout: time.Second,
	}
	for _, m := range mod {
		m(&r.cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- Run(ctx, r.cfg) }()
	t.Cleanup(func() { r.shutdown(t) })
	eventually(t, 5*time.Second, "the gateway listens", func() error {
		_, _, err := r.get("/readyz", nil)
		return err
	})
	return r
}

func (r *running) shutdown(t *testing.T) {
	t.Helper()
	r.stop()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("Run: %v\n%s", err, r.log)
		}
		close(r.done)
	case <-time.After(15 * time.Second):
		t.Errorf("Run did not return after cancel\n%s", r.log)
	}
}

// get asks the metrics listener for path, or (host set) the gateway.
func (r *running) get(path string, headers map[string]string) (int, string, error) {
	addr := r.cfg.MetricsListen
	host := headers["Host"]
	if host != "" {
		addr = r.cfg.Listen
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if host != "" {
		req.Host = host
	}
	c := &http.Client{Timeout: 2 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func (r *running) shop(headers map[string]string) (int, string) {
	h := map[string]string{"Host": "shop.localhost"}
	for k, v := range headers {
		h[k] = v
	}
	code, body, err := r.get("/", h)
	if err != nil {
		return 0, err.Error()
	}
	return code, body
}

func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
}

func (r *running) answers(t *testing.T, want string) {
	t.Helper()
	eventually(t, 5*time.Second, "the gateway answers "+want, func() error {
		if code, body := r.shop(nil); code != 200 || !strings.HasPrefix(body, want) {
			return fmt.Errorf("%d %q", code, body)
		}
		return nil
	})
}

// TestFollow: two gateways follow the control plane, keep serving while it
// is down, a third starts from the state file while it is down, and all
// resume when it is back.
func TestFollow(t *testing.T) {
	t.Parallel()
	cp := newControlPlane(t)
	cp.serve(1, "v1", shopSpec(spec.Route{}))
	state := filepath.Join(t.TempDir(), "state", "gw.json")
	a, b := startGateway(t, cp, state), startGateway(t, cp, state)
	a.answers(t, "v1")
	b.answers(t, "v1")

	cp.serve(2, "v2", shopSpec(spec.Route{}))
	a.answers(t, "v2")
	b.answers(t, "v2")
	// A gateway saves a table after it serves it (a synced write, slow on
	// a busy disk): wait for the save before relying on it below.
	eventually(t, 5*time.Second, "the state file holds revision 2", func() error {
		st, err := loadState(state, "http://"+cp.addr+"/")
		if err != nil {
			return err
		}
		if st.Snapshot.Revision != 2 {
			return fmt.Errorf("revision %d", st.Snapshot.Revision)
		}
		return nil
	})

	cp.stop()
	eventually(t, 5*time.Second, "the gateway notices", func() error {
		if !strings.Contains(a.log.String(), "lost the control plane") {
			return fmt.Errorf("log:\n%s", a.log)
		}
		return nil
	})
	for range 5 {
		if code, body := a.shop(nil); code != 200 || !strings.HasPrefix(body, "v2") {
			t.Fatalf("while the control plane is down: %d %q", code, body)
		}
	}
	c := startGateway(t, cp, state)
	c.answers(t, "v2")
	if !strings.Contains(c.log.String(), "serving the table saved in the state file") {
		t.Errorf("the log does not say the table came from the state file:\n%s", c.log)
	}
	if _, body, _ := c.get("/readyz", nil); !strings.HasPrefix(body, "ok revision") {
		t.Errorf("readyz: %q", body)
	}

	cp.start()
	cp.serve(3, "v3", shopSpec(spec.Route{}))
	for _, g := range []*running{a, b, c} {
		g.answers(t, "v3")
	}
	_, metrics, err := a.get("/metrics", nil)
	if err != nil || !strings.Contains(metrics, "berth_gateway_snapshot_revision 3") ||
		!strings.Contains(metrics, "berth_gateway_control_plane_connected 1") ||
		!strings.Contains(metrics, `berth_gateway_requests_total{app="shop"`) {
		t.Errorf("metrics: %v\n%s", err, metrics)
	}
	st, err := loadState(state, "http://"+cp.addr+"/")
	if err != nil || st.Snapshot.Revision != 3 {
		t.Errorf("state file: %+v, %v", st, err)
	}
	if _, err := loadState(state, "http://elsewhere:7700"); err == nil {
		t.Error("a state file of another server was accepted")
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode: %v, %v", fi, err)
	}
	// The gateways still run and may be writing the state file right now:
	// a temporary file is only a leak if it outlives that write.
	deadline := time.Now().Add(2 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(state), "*.tmp"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("temporary files left: %v", left)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAuthRoute: a route with api_keys answers 401 without the key, and
// with it forwards the subject, never the client's own.
func TestAuthRoute(t *testing.T) {
	t.Parallel()
	cp := newControlPlane(t)
	sum := "3e2ac0be11b1ea1ca8aa5be05c3ebc76f5e2b0e51b5c5d4e1c6b9bbcdb3f3c59" // not a real key's
	keyDigest := digestOf("opensesame")
	cp.serve(1, "secret", shopSpec(spec.Route{Auth: &spec.RouteAuth{APIKeys: &spec.APIKeyAuth{
		Header: "X-API-Key", Keys: map[string]string{keyDigest: "alice", sum: "nobody"},
	}}}))
	g := startGateway(t, cp, "")
	eventually(t, 5*time.Second, "the route is loaded", func() error {
		if code, _ := g.shop(nil); code != http.StatusUnauthorized {
			return fmt.Errorf("without a key: %d", code)
		}
		return nil
	})
	if code, body := g.shop(map[string]string{"X-API-Key": "opensesame", "X-Berth-Subject": "root"}); code != 200 || body != `secret subject="alice"` {
		t.Fatalf("with the key: %d %q", code, body)
	}
	if code, _ := g.shop(map[string]string{"X-API-Key": "guess"}); code != http.StatusUnauthorized {
		t.Fatalf("with a wrong key: %d", code)
	}
}

// TestRejectedToken: a token the control plane rejects ends Run at once.
func TestRejectedToken(t *testing.T) {
	t.Parallel()
	cp := newControlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := Run(ctx, Config{Server: "http://" + cp.addr, Token: "wrong", Listen: freeAddr(t)})
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("Run = %v", err)
	}
}
