package routefeed

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/policy"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCompileAuth maps a route's api_keys and jwt auth to the gateway's
// policy, and a real gateway with the policy middlewares enforces it: no
// key 401, a key 200 with the subject forwarded, a spoofed subject gone.
func TestCompileAuth(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "subject="+strings.Join(r.Header.Values("X-Berth-Subject"), ","))
	}))
	t.Cleanup(backend.Close)
	host, port := splitAddr(t, backend.Listener.Addr().String())

	sum := sha256.Sum256([]byte("key-of-the-ci-bot"))
	upper := strings.ToUpper(hex.EncodeToString(sum[:]))
	sp := spec.App{Name: "shop", Routes: []spec.Route{
		{Host: "shop.localhost", Path: "/", Service: "web", Auth: &spec.RouteAuth{
			APIKeys: &spec.APIKeyAuth{Header: "X-Shop-Key", Keys: map[string]string{upper: "ci-bot"}},
		}},
		{Host: "sso.localhost", Path: "/", Service: "web", Auth: &spec.RouteAuth{
			JWT: &spec.JWTAuth{Issuer: "https://idp.example.com", Audiences: []string{"shop"}},
		}},
	}}
	specJSON, _ := json.Marshal(sp)
	now := time.Now().UTC()
	if err := db.CreateApp(ctx, store.App{Name: "shop", LatestRelease: 1, TargetRelease: 1, CreatedAt: now, UpdatedAt: now,
		Status: api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
			Name: "web", Instances: []api.Instance{{ID: "web-1", Release: 1, Ready: true, Host: host, Port: port}},
		}}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelease(ctx, store.Release{App: "shop", Number: 1, Spec: specJSON, State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	snap, err := Compile(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	wantKeys := &gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Header: "X-Shop-Key", Keys: map[string]string{strings.ToLower(upper): "ci-bot"}}}
	wantJWT := &gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: "https://idp.example.com", Audiences: []string{"shop"}}}
	if len(snap.Routes) != 2 || !reflect.DeepEqual(snap.Routes[0].Policy.Auth, wantKeys) || !reflect.DeepEqual(snap.Routes[1].Policy.Auth, wantJWT) {
		t.Fatalf("routes %+v", snap.Routes)
	}

	log := slog.New(slog.DiscardHandler)
	gw := gateway.New(gateway.Options{Logger: log, Metrics: prometheus.NewRegistry(), Middlewares: policy.Middlewares(policy.Options{Logger: log})})
	t.Cleanup(func() { _ = gw.Close() })
	if err := gw.Load(snap); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(gw)
	t.Cleanup(front.Close)
	tests := []struct {
		desc    string
		headers map[string]string
		status  int
		body    string
	}{
		{desc: "no key", status: http.StatusUnauthorized},
		{desc: "a wrong key", headers: map[string]string{"X-Shop-Key": "guess"}, status: http.StatusUnauthorized},
		{desc: "the key", headers: map[string]string{"X-Shop-Key": "key-of-the-ci-bot"}, status: http.StatusOK, body: "subject=ci-bot"},
		{desc: "the key and a spoofed subject", headers: map[string]string{"X-Shop-Key": "key-of-the-ci-bot", "X-Berth-Subject": "admin"},
			status: http.StatusOK, body: "subject=ci-bot"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(http.MethodGet, front.URL+"/", nil)
			req.Host = "shop.localhost"
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status || tt.body != "" && string(b) != tt.body {
				t.Errorf("%d %q, want %d %q", res.StatusCode, b, tt.status, tt.body)
			}
		})
	}
}

// orderReader records the order of Compile's reads.
type orderReader struct {
	Reader
	mu    sync.Mutex
	calls []string
}

func (o *orderReader) note(s string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.calls = append(o.calls, s)
}

func (o *orderReader) LastRevision(ctx context.Context) (int64, error) {
	o.note("LastRevision")
	return o.Reader.LastRevision(ctx)
}

func (o *orderReader) ListApps(ctx context.Context) ([]store.App, error) {
	o.note("ListApps")
	return o.Reader.ListApps(ctx)
}

func (o *orderReader) GetRelease(ctx context.Context, app string, n int) (store.Release, error) {
	o.note("GetRelease")
	return o.Reader.GetRelease(ctx, app, n)
}

// TestCompileRevisionFirst: the revision is read before the state, so a
// follower watching from it cannot miss a change made during Compile.
// An empty store gives an empty list of routes, not null.
func TestCompileRevisionFirst(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	r := &orderReader{Reader: db}
	snap, err := Compile(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.calls, []string{"LastRevision", "ListApps"}) {
		t.Errorf("calls %v", r.calls)
	}
	b, _ := json.Marshal(snap)
	if string(b) != `{"revision":0,"routes":[]}` {
		t.Errorf("empty snapshot %s", b)
	}
}
