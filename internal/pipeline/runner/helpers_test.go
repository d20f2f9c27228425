package runner

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor/local"
	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// gitCLI runs the git binary to build test repositories; the code under
// test never does (it uses go-git).
func gitCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	return gittest.Git(t, dir, args...)
}

// repo is a Git repository with a working copy, pushed to a bare copy
// served over smart HTTP (git http-backend) on 127.0.0.1.
type repo struct {
	t    *testing.T
	work string
	URL  string
	// root holds the bare repository (GIT_PROJECT_ROOT).
	root string
}

func newRepo(t *testing.T, app string) *repo {
	t.Helper()
	return newPrivateRepo(t, app, "")
}

// newPrivateRepo is newRepo behind a check of basic auth, as a forge asks
// for an access token: with token set, every request needs it as the
// password, else 401.
func newPrivateRepo(t *testing.T, app, token string) *repo {
	t.Helper()
	root, work := t.TempDir(), t.TempDir()
	bare := filepath.Join(root, app+".git")
	gitCLI(t, root, "init", "-q", "--bare", bare)
	gitCLI(t, bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	gitCLI(t, bare, "config", "http.receivepack", "false")
	gitCLI(t, work, "init", "-q")
	gitCLI(t, work, "remote", "add", "origin", bare)
	url := gittest.Serve(t, root, token)
	return &repo{t: t, work: work, URL: url + "/" + app + ".git", root: root}
}

// commit writes files (content "" deletes), commits on the current branch
// and pushes it; it returns the commit.
func (rp *repo) commit(files map[string]string, msg string) string {
	t := rp.t
	t.Helper()
	for name, content := range files {
		p := filepath.Join(rp.work, name)
		if content == "" {
			_ = os.Remove(p)
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gitCLI(t, rp.work, "add", "-A")
	gitCLI(t, rp.work, "commit", "-q", "--allow-empty", "-m", msg)
	gitCLI(t, rp.work, "push", "-q", "-f", "origin", "HEAD")
	return gitCLI(t, rp.work, "rev-parse", "HEAD")
}

func (rp *repo) branch(name string) { gitCLI(rp.t, rp.work, "checkout", "-q", "-B", name) }

func (rp *repo) tag(name string) string {
	gitCLI(rp.t, rp.work, "tag", "-a", "-m", name, name)
	gitCLI(rp.t, rp.work, "push", "-q", "origin", "refs/tags/"+name)
	return gitCLI(rp.t, rp.work, "rev-parse", "HEAD")
}

// appSpec is a berth.yaml whose source is rp.
func appSpec(app, url string) string {
	return "name: " + app + "\nsource: {git: " + url + ", branch: main}\nservices:\n  web:\n    command: [sleep, \"1000\"]\n"
}

// env is a runner on a real SQLite store with the local executor.
type env struct {
	t       *testing.T
	st      *sqlite.DB
	r       *Runner
	dataDir string
	cancel  context.CancelFunc
	done    chan struct{}
}

type envOpts struct {
	noStart bool
	secrets SecretResolver
	tweak   func(*Options)
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	dataDir := t.TempDir() // 0700, like the server's
	st, err := sqlite.Open(t.Context(), filepath.Join(dataDir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	blobs, err := blob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	// The step user must be able to reach the workspaces: not under a
	// 0700 temp dir.
	outer, err := os.MkdirTemp("", "berth-runner-test-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outer) })
	if err := os.Chmod(outer, 0o755); err != nil {
		t.Fatal(err)
	}
	ex, err := local.New(t.Context(), local.Options{KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Store: st, Blobs: blobs, Executor: ex, Secrets: o.secrets, DataDir: dataDir,
		WorkDir: filepath.Join(outer, "work"), Tick: 50 * time.Millisecond, PerPipeline: 4,
	}
	if o.tweak != nil {
		o.tweak(&opts)
	}
	r, err := New(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, r: r, dataDir: dataDir}
	if !o.noStart {
		e.start()
	}
	t.Cleanup(e.stop)
	return e
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		if err := e.r.Run(ctx); err != nil {
			e.t.Errorf("Run: %v", err)
		}
	}()
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	<-e.done
	e.cancel = nil
}

// addApp creates app with a release whose berth.yaml names rp.
func (e *env) addApp(app, team string, rp *repo) {
	e.t.Helper()
	e.addAppSpec(app, team, appSpec(app, rp.URL))
}

// addAppSpec creates app with a release of berthYAML.
func (e *env) addAppSpec(app, team, berthYAML string) {
	e.t.Helper()
	a, err := spec.ParseWith([]byte(berthYAML), pipeline.SpecOptions)
	if err != nil {
		e.t.Fatal(err)
	}
	canonical, err := a.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.st.InTx(e.t.Context(), func(tx store.Tx) error {
		_, err := release.Apply(e.t.Context(), tx, release.Input{Name: app, Canonical: canonical, Team: team, Now: time.Now()})
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// waitRun waits until run id satisfies ok, and returns it.
func (e *env) waitRun(id string, what string, ok func(store.Run) bool) store.Run {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		run, err := e.st.GetRun(e.t.Context(), id)
		if err == nil && ok(run) {
			return run
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("run %s: %s did not happen; last: %+v (err %v)\nlog:\n%s", id, what, run, err, e.log(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) waitEnd(id string) store.Run {
	e.t.Helper()
	return e.waitRun(id, "end", func(r store.Run) bool { return store.RunTerminal(r.State) })
}

func (e *env) log(id string) string {
	b, _ := os.ReadFile(e.r.logPath(id))
	return string(b)
}

func stepOf(run store.Run, name string) store.RunStep {
	for _, s := range run.Steps {
		if s.Name == name {
			return s
		}
	}
	return store.RunStep{}
}

// mapSecrets is a test SecretResolver.
type mapSecrets map[string]string

func (m mapSecrets) Resolve(_ context.Context, _, _ string, names []string) (map[string]string, error) {
	out := map[string]string{}
	for _, n := range names {
		if v, ok := m[n]; ok {
			out[n] = v
		}
	}
	return out, nil
}
