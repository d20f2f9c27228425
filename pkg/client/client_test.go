package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	internalapi "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// stringLogs serves fixed text as every log stream.
type stringLogs struct{ text string }

func (s stringLogs) Logs(ctx context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	return io.NopCloser(strings.NewReader(fmt.Sprintf("%s/%s tail=%d: %s", app, service, opts.Tail, s.text))), nil
}

// newServer runs the real API over a real SQLite file and returns a client
// of it. wrap, when set, sits in front of the API handler.
func newServer(t *testing.T, wrap func(http.Handler) http.Handler) (*Client, *httptest.Server, string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := internalapi.EnsureAdminToken(ctx, db, dir, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, internalapi.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	h := internalapi.New(internalapi.Deps{
		Store: db, Blobs: blobs, Logs: stringLogs{text: "hello\n"},
		Version:   api.Version{Version: "v1.2.3", GoVersion: "go"},
		WatchPoll: 50 * time.Millisecond, Heartbeat: 100 * time.Millisecond,
	})
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c := New(srv.URL+"/", token, WithUserAgent("berth-test"))
	c.retryMin, c.retryMax = 10*time.Millisecond, 50*time.Millisecond
	return c, srv, token
}

const specV1 = "name: shop\nservices:\n  web:\n    command: [./web]\n    ports: [8080]\n"
const specV2 = "name: shop\nservices:\n  web:\n    command: [./web]\n    ports: [8080]\n    replicas: 3\n"

func TestClientRoundTrip(t *testing.T) {
	t.Parallel()
	c, _, _ := newServer(t, nil)
	ctx := context.Background()

	v, err := c.Version(ctx)
	if err != nil || v.Version != "v1.2.3" {
		t.Fatalf("Version: %+v, %v", v, err)
	}
	if err := c.Validate(ctx, specV1); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	content := []byte("source archive bytes")
	sum := sha256.Sum256(content)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if err := c.UploadSource(ctx, digest, strings.NewReader(string(content))); err != nil {
		t.Fatalf("UploadSource: %v", err)
	}
	// An unknown-length reader goes chunked.
	if err := c.UploadSource(ctx, digest, io.MultiReader(strings.NewReader(string(content)))); err != nil {
		t.Fatalf("UploadSource chunked: %v", err)
	}
	r1, err := c.Apply(ctx, api.ApplyRequest{Spec: specV1, Source: digest})
	if err != nil || r1 != (api.ApplyResponse{App: "shop", Release: 1, Created: true, Revision: 1}) {
		t.Fatalf("Apply: %+v, %v", r1, err)
	}
	r2, err := c.Apply(ctx, api.ApplyRequest{Spec: specV2, Source: digest})
	if err != nil || r2.Release != 2 {
		t.Fatalf("Apply 2: %+v, %v", r2, err)
	}
	apps, err := c.ListApps(ctx)
	if err != nil || len(apps) != 1 || apps[0].TargetRelease != 2 {
		t.Fatalf("ListApps: %+v, %v", apps, err)
	}
	app, err := c.GetApp(ctx, "shop")
	if err != nil || app.LatestRelease != 2 {
		t.Fatalf("GetApp: %+v, %v", app, err)
	}
	rels, err := c.ListReleases(ctx, "shop")
	if err != nil || len(rels) != 2 {
		t.Fatalf("ListReleases: %+v, %v", rels, err)
	}
	rel, err := c.GetRelease(ctx, "shop", 1)
	if err != nil || rel.Number != 1 || rel.Source != digest {
		t.Fatalf("GetRelease: %+v, %v", rel, err)
	}
	d, err := c.Diff(ctx, "shop", 1, 2)
	if err != nil || !strings.Contains(d.Diff, "-    replicas: 1\n+    replicas: 3\n") {
		t.Fatalf("Diff: %+v, %v", d, err)
	}
	rb, err := c.Rollback(ctx, "shop", 1)
	if err != nil || rb != (api.ApplyResponse{App: "shop", Release: 3, Created: true, Revision: 3}) {
		t.Fatalf("Rollback: %+v, %v", rb, err)
	}
	logs, err := c.Logs(ctx, "shop", LogOptions{Service: "web", Tail: 7})
	if err != nil {
		t.Fatalf("Logs: %v", err)
	}
	text, _ := io.ReadAll(logs)
	logs.Close()
	if string(text) != "shop/web tail=7: hello\n" {
		t.Fatalf("Logs: %q", text)
	}
	if err := c.DeleteApp(ctx, "shop"); err != nil {
		t.Fatalf("DeleteApp: %v", err)
	}
	app, _ = c.GetApp(ctx, "shop")
	if app.Status.Phase != api.PhaseDeleting {
		t.Fatalf("after DeleteApp: %+v", app)
	}
}

func TestClientErrors(t *testing.T) {
	t.Parallel()
	c, srv, _ := newServer(t, nil)
	ctx := context.Background()

	err := c.Validate(ctx, "name: shop\nservices:\n  web:\n    command: [x]\n    portz: [1]\n")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 422 || !IsInvalid(err) || IsNotFound(err) {
		t.Fatalf("Validate of a bad spec: %#v", err)
	}
	if want := "\n  services.web.portz: unknown field; did you mean \"ports\"? (line 5)"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("error text %q does not end with %q", err.Error(), want)
	}
	if ae.Code != api.CodeInvalid || ae.RequestID == "" {
		t.Errorf("promoted fields: %+v", ae)
	}

	if _, err := c.GetApp(ctx, "nope"); !IsNotFound(err) {
		t.Errorf("GetApp unknown: %v", err)
	}
	if _, err := c.GetRelease(ctx, "nope", 1); !IsNotFound(err) {
		t.Errorf("GetRelease unknown: %v", err)
	}
	if err := c.UploadSource(ctx, "sha256:"+strings.Repeat("0", 64), strings.NewReader("x")); !IsInvalid(err) {
		t.Errorf("UploadSource mismatch: %v", err)
	}
	bad := New(srv.URL, "berth_wrong")
	if _, err := bad.ListApps(ctx); !IsUnauthorized(err) {
		t.Errorf("wrong token: %v", err)
	}
	if err := bad.Watch(ctx, 0, func(api.Event) error { return nil }); !IsUnauthorized(err) {
		t.Errorf("Watch with wrong token: %v", err)
	}
}

func TestClientCannotReach(t *testing.T) {
	t.Parallel()
	// A port that was just free: nothing listens on it.
	srv := httptest.NewServer(http.NotFoundHandler())
	addr := srv.URL
	srv.Close()
	c := New(addr, "t")
	_, err := c.Version(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach Berth at "+addr) || !strings.Contains(err.Error(), `"berth server"`) {
		t.Fatalf("error %v", err)
	}
	if IsNotFound(err) || IsUnauthorized(err) || IsInvalid(err) {
		t.Fatalf("a network error classified as an API error: %v", err)
	}
	err = c.Watch(context.Background(), 0, func(api.Event) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "cannot reach Berth") {
		t.Fatalf("Watch: %v", err)
	}
}

func TestClientNonJSONError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		io.WriteString(w, "<html>bad gateway</html>")
	}))
	defer srv.Close()
	_, err := New(srv.URL, "t").ListApps(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 502 || !strings.Contains(ae.Error(), "bad gateway") {
		t.Fatalf("%#v", err)
	}
}

func TestNewAddsScheme(t *testing.T) {
	t.Parallel()
	tests := []struct{ desc, in, want string }{
		{desc: "bare host", in: "localhost:7700", want: "http://localhost:7700"},
		{desc: "trailing slash", in: "https://b.example/", want: "https://b.example"},
		{desc: "prefix kept", in: "http://h/berth/", want: "http://h/berth"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := New(tc.in, "").base; got != tc.want {
				t.Fatalf("New(%q).base = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestWatchReconnects drops the stream every 150ms; Watch must reconnect
// with Last-Event-ID and deliver each event exactly once, in order.
func TestWatchReconnects(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var lastIDs []string
	c, _, _ := newServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/watch" {
				next.ServeHTTP(w, r)
				return
			}
			mu.Lock()
			lastIDs = append(lastIDs, r.Header.Get("Last-Event-ID"))
			mu.Unlock()
			ctx, cancel := context.WithTimeout(r.Context(), 150*time.Millisecond)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const total = 6
	applied := make(chan struct{})
	defer func() { <-applied }()
	go func() {
		defer close(applied)
		for i := 1; i <= total; i++ {
			spec := fmt.Sprintf("name: shop\nservices:\n  web:\n    command: [./web, \"%d\"]\n", i)
			if _, err := c.Apply(ctx, api.ApplyRequest{Spec: spec}); err != nil {
				t.Errorf("apply %d: %v", i, err)
				return
			}
			if i < total {
				time.Sleep(120 * time.Millisecond)
			}
		}
	}()
	var got []int64
	stop := errors.New("seen all")
	err := c.Watch(ctx, 0, func(e api.Event) error {
		got = append(got, e.Revision)
		if len(got) == total {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Watch returned %v", err)
	}
	for i, rev := range got {
		if rev != int64(i+1) {
			t.Fatalf("revisions %v: want 1..%d with no gap or repeat", got, total)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lastIDs) < 2 || lastIDs[0] != "" {
		t.Fatalf("connections with Last-Event-ID %q: want a fresh start, then reconnects", lastIDs)
	}
	resumed := false
	for _, id := range lastIDs[1:] {
		if id != "" {
			resumed = true
		}
	}
	if !resumed {
		t.Fatalf("no reconnect sent Last-Event-ID: %q", lastIDs)
	}
}

func TestWatchEndsWithContext(t *testing.T) {
	t.Parallel()
	c, _, _ := newServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := c.Watch(ctx, 0, func(api.Event) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch returned %v, want the context's error", err)
	}
}

// TestWatchIdleReconnect: a stream that stops sending even heartbeats is
// treated as dead and reopened.
func TestWatchIdleReconnect(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	conns := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conns++
		n := conns
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprintf(w, "id: %d\nevent: app.status\ndata: {\"revision\":%d,\"kind\":\"app.status\",\"app\":\"a\",\"time\":\"2030-01-01T00:00:00Z\"}\n\n", n, n)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // then silence
	}))
	defer srv.Close()
	c := New(srv.URL, "t")
	c.watchIdle, c.retryMin = 100*time.Millisecond, 10*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []int64
	err := c.Watch(ctx, 0, func(e api.Event) error {
		got = append(got, e.Revision)
		if len(got) == 2 {
			return io.EOF
		}
		return nil
	})
	if err != io.EOF || len(got) != 2 || got[1] != 2 {
		t.Fatalf("Watch: %v, got %v", err, got)
	}
}

// TestClientCanary drives rollout, promote and abort through the client;
// the reconciler's part (marking release 1 deployed) is played by hand.
func TestClientCanary(t *testing.T) {
	t.Parallel()
	c, _, _ := newServer(t, nil)
	ctx := context.Background()
	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: specV1}); err != nil {
		t.Fatal(err)
	}
	_, err := c.Rollout(ctx, "shop", api.RolloutRequest{Canary: ptr(10)})
	if statusOf(err) != http.StatusConflict {
		t.Fatalf("canary with nothing serving: %v", err)
	}
	_, err = c.Rollout(ctx, "shop", api.RolloutRequest{})
	if !IsInvalid(err) {
		t.Fatalf("empty rollout: %v", err)
	}
	_, err = c.Promote(ctx, "nope")
	if !IsNotFound(err) {
		t.Fatalf("promote of an unknown app: %v", err)
	}
	_, err = c.Abort(ctx, "shop")
	if statusOf(err) != http.StatusConflict {
		t.Fatalf("abort without a canary: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
