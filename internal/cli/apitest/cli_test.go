package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// cannedLogs serves a fixed text and records what was asked.
type cannedLogs struct {
	mu    sync.Mutex
	asked []string
}

func (c *cannedLogs) Logs(_ context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	c.mu.Lock()
	c.asked = append(c.asked, fmt.Sprintf("%s/%s instance=%s tail=%d follow=%v", app, service, opts.Instance, opts.Tail, opts.Follow))
	c.mu.Unlock()
	return io.NopCloser(strings.NewReader("web-1 | hello\nweb-1 | bye\n")), nil
}

type env struct {
	t      *testing.T
	url    string
	token  string
	db     store.Store
	blobs  *blob.Dir
	logs   *cannedLogs
	config string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	if _, err := apiserver.EnsureAdminToken(ctx, db, dir, time.Now(), logger); err != nil {
		t.Fatal(err)
	}
	tok, err := os.ReadFile(filepath.Join(dir, apiserver.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	logs := &cannedLogs{}
	key, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(apiserver.Deps{
		Store: db, Blobs: blobs, Logs: logs, Logger: logger,
		Clusters:  secretstore.New(db, ring),
		Version:   api.Version{Version: "v0.0.0-server", GoVersion: "go-test"},
		WatchPoll: 20 * time.Millisecond, Heartbeat: 200 * time.Millisecond,
	}))
	t.Cleanup(srv.Close)
	return &env{t: t, url: srv.URL, token: strings.TrimSpace(string(tok)), db: db, blobs: blobs, logs: logs, config: t.TempDir()}
}

type result struct {
	code           int
	stdout, stderr string
}

func (e *env) run(args ...string) result {
	e.t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Execute(context.Background(), args, cli.Options{
		Version:      "v0.0.0-cli",
		Stdout:       &out,
		Stderr:       &errOut,
		Getenv:       func(k string) string { return map[string]string{"XDG_CONFIG_HOME": e.config}[k] },
		PollInterval: 20 * time.Millisecond,
	})
	return result{code, out.String(), errOut.String()}
}

// must runs args and fails the test unless the exit code is code and
// stdout contains every want.
func (e *env) must(code int, args []string, want ...string) result {
	e.t.Helper()
	res := e.run(args...)
	if res.code != code {
		e.t.Fatalf("berth %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), res.code, code, res.stdout, res.stderr)
	}
	// Table columns are compared with runs of spaces collapsed: widths
	// depend on the data (ports, ages) and are tested by the unit tests.
	got := squeeze(res.stdout + res.stderr)
	for _, w := range want {
		if !strings.Contains(got, squeeze(w)) {
			e.t.Fatalf("berth %s: output lacks %q\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), w, res.stdout, res.stderr)
		}
	}
	return res
}

var spaces = regexp.MustCompile(` {2,}`)

func squeeze(s string) string { return spaces.ReplaceAllString(s, " ") }

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const shopSpec = `name: shop
services:
  web:
    command: [./bin/web]
    ports: [8080]
    replicas: 2
    env: {GREETING: hello}
`

// deployWhenCreated plays the reconciler for release n: once it exists,
// it marks it deployed and reports the app's services ready.
func (e *env) deployWhenCreated(ctx context.Context, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for {
				rel, err := e.db.GetRelease(ctx, "shop", n)
				if err == nil {
					time.Sleep(50 * time.Millisecond) // let the CLI see it progressing
					a, err := e.db.GetApp(ctx, "shop")
					if err != nil {
						return err
					}
					a.Status = api.AppStatus{Release: n, Serving: n, Phase: api.PhaseRunning, Services: []api.ServiceStatus{
						{Name: "web", Desired: 2, Ready: 2, Release: n},
					}}
					if _, err := e.db.UpdateApp(ctx, a); err != nil {
						return err
					}
					rel.State = api.ReleaseDeployed
					_, err = e.db.UpdateRelease(ctx, rel)
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}()
	return done
}

func TestCLIAgainstAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := t.TempDir()
	writeFiles(t, app, map[string]string{
		"berth.yaml":   shopSpec,
		"web/main.go":  "package main\n",
		"bin/web":      "not packed",
		".berthignore": "bin/\n",
	})

	e.must(1, []string{"apps"}, `run "berth login URL --token TOKEN" first`)
	e.must(1, []string{"login", e.url, "--token", "nope"}, "rejected the token")
	e.must(0, []string{"login", e.url, "--token", e.token, "--context", "test"}, `saved as context "test"`)
	e.must(0, []string{"version"}, "Client: v0.0.0-cli", "Server: v0.0.0-server (go-test)")
	e.must(0, []string{"validate", "-f", app, "--server"}, "is valid")

	// First apply creates release 1 and uploads the source without bin/.
	e.must(0, []string{"apply", "-f", app, "--wait=false"}, "app shop: release 1 created")
	digest, err := source.Pack(app, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := e.blobs.Has(context.Background(), digest); !ok {
		t.Errorf("source %s was not uploaded", digest)
	}
	e.must(0, []string{"apply", "-f", filepath.Join(app, "berth.yaml"), "--wait=false"}, "app shop: unchanged (release 1)")

	// A changed file makes a new release even with the same spec.
	writeFiles(t, app, map[string]string{"web/main.go": "package main // v2\n"})
	e.must(0, []string{"apply", "-f", app, "--wait=false"}, "app shop: release 2 created")
	e.must(0, []string{"diff", "shop", "1", "2"}, "Releases 1 and 2 of shop have the same spec.")

	// A spec change, followed until the (simulated) reconciler deploys it.
	writeFiles(t, app, map[string]string{"berth.yaml": strings.Replace(shopSpec, "hello", "bonjour", 1)})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deployed := e.deployWhenCreated(ctx, 3)
	e.must(0, []string{"apply", "-f", app, "--timeout", "20s"},
		"app shop: release 3 created", "  web  2/2 ready  (release 3)", "app shop: release 3 deployed")
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	res := e.must(0, []string{"diff", "shop", "2", "3"}, "-", "+")
	if !strings.Contains(res.stdout, "hello") || !strings.Contains(res.stdout, "bonjour") {
		t.Errorf("diff 2 3:\n%s", res.stdout)
	}

	// Reads, in every format.
	e.must(0, []string{"apps"}, "NAME  RELEASE  SERVING  PHASE    SERVICES  AGE", "shop  3        3        Running  1/1")
	res = e.must(0, []string{"apps", "-o", "json"})
	var apps []api.App
	if err := json.Unmarshal([]byte(res.stdout), &apps); err != nil || len(apps) != 1 || apps[0].TargetRelease != 3 {
		t.Errorf("apps -o json: %v %+v", err, apps)
	}
	e.must(0, []string{"status", "shop"}, "App:       shop", "Release:   3 (serving 3)", "Phase:     Running", "  web   2/2    3")
	e.must(0, []string{"status", "shop", "-o", "yaml"}, "name: shop", "target_release: 3")
	e.must(0, []string{"releases", "shop"}, "NUMBER  STATE", "3       deployed  apply", "1       pending")

	// Rollback without waiting, then one that is followed to the end.
	e.must(0, []string{"rollback", "shop", "--to", "1", "--wait=false"}, "app shop: release 4 created (rollback to release 1)")
	deployed = e.deployWhenCreated(ctx, 5)
	e.must(0, []string{"rollback", "shop", "--to", "3", "--timeout", "20s"}, "release 5 created (rollback to release 3)", "release 5 deployed")
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	e.must(0, []string{"releases", "shop"}, "5       deployed    rollback to 3")

	e.must(0, []string{"logs", "shop/web", "--tail", "5", "--instance", "web-1"}, "web-1 | hello\nweb-1 | bye\n")
	e.logs.mu.Lock()
	asked := strings.Join(e.logs.asked, ";")
	e.logs.mu.Unlock()
	if asked != "shop/web instance=web-1 tail=5 follow=false" {
		t.Errorf("logs asked %q", asked)
	}

	// Not found: exit 1 with a next step.
	e.must(1, []string{"status", "nosuch"}, `app "nosuch" not found; see "berth apps"`)
	e.must(1, []string{"logs", "nosuch"}, "see \"berth status nosuch\"")
	e.must(1, []string{"diff", "shop", "1", "99"}, `see "berth releases shop"`)
	e.must(1, []string{"delete", "nosuch"}, `app "nosuch" not found`)

	e.must(1, []string{"rollback", "shop", "--to", "99"}, `release 99 of app "shop" not found`, `see "berth releases shop"`)
	// The server's 422 is bad input (exit 2), with the field it names.
	e.must(2, []string{"rollback", "shop", "--to", "5"}, "release 5 is already the target", "to: ")

	e.must(0, []string{"delete", "shop"}, "app shop: deleting")
	e.must(0, []string{"status", "shop"}, "Phase: Deleting")
	e.must(1, []string{"rollback", "shop"}, `app "shop" is being deleted`)
}
