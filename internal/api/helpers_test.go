package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// testServer is the API on a real HTTP server over a real SQLite file.
type testServer struct {
	*httptest.Server
	dir   string // the data dir: berth.db, blobs, admin-token
	db    *sqlite.DB
	blobs *blob.Dir
	token string
	clock *fakeClock
	srv   *server

	mu       sync.Mutex
	notified []string
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Second)
	return c.now
}

func newTestServer(t *testing.T, mod ...func(*Deps)) *testServer {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := EnsureAdminToken(ctx, db, dir, time.Now(), logger); err != nil {
		t.Fatalf("admin token: %v", err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{dir: dir, db: db, blobs: blobs, token: strings.TrimSpace(string(tok)),
		clock: &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}}
	d := Deps{
		Store: db, Blobs: blobs, Logger: logger, Now: ts.clock.Now,
		Version: api.Version{Version: "v0.0.0-test", GoVersion: "go-test"},
		Notify: func(app string) {
			ts.mu.Lock()
			defer ts.mu.Unlock()
			ts.notified = append(ts.notified, app)
		},
		WatchPoll: 50 * time.Millisecond,
		Heartbeat: 100 * time.Millisecond,
	}
	// Cluster credentials are sealed as the server seals them.
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	d.Clusters = secretstore.New(db, ring)
	for _, m := range mod {
		m(&d)
	}
	ts.srv = newServer(d)
	ts.Server = httptest.NewServer(ts.srv.handler())
	t.Cleanup(ts.Close)
	return ts
}

// testWriter sends log lines to the test's log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// call makes an authorised request with a body (string, []byte or a value
// encoded as JSON) and returns the status and body.
func (ts *testServer) call(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	resp := ts.do(t, method, path, body, map[string]string{"Authorization": "Bearer " + ts.token})
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func (ts *testServer) do(t *testing.T, method, path string, body any, headers map[string]string) *http.Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// mustCall is call that fails the test unless the status is want, and
// decodes the body into out (when not nil).
func (ts *testServer) mustCall(t *testing.T, want int, method, path string, body, out any) {
	t.Helper()
	status, b := ts.call(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, status, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func decodeError(t *testing.T, b []byte) api.Error {
	t.Helper()
	var eb api.ErrorBody
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("not the error shape: %v: %s", err, b)
	}
	if eb.Error.Code == "" || eb.Error.Message == "" || eb.Error.RequestID == "" {
		t.Fatalf("error without code, message or request id: %s", b)
	}
	return eb.Error
}

const specV1 = `name: shop
services:
  web:
    command: [./web]
    ports: [8080]
`

const specV2 = `name: shop
services:
  web:
    command: [./web, --fast]
    ports: [8080]
    replicas: 2
`

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
