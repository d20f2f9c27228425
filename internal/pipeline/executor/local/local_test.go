package local

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/swaptest"
)

// syncBuffer is a log the copy goroutine and the test may touch.
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

// base returns a folder the step user can enter: t.TempDir() is 0700, as
// a server's data directory would be.
func base(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != "/" && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func newExec(t *testing.T) *Executor {
	t.Helper()
	e, err := New(t.Context(), Options{KillGrace: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func prepare(t *testing.T, e *Executor) executor.Workspace {
	t.Helper()
	ws, err := e.Prepare(t.Context(), filepath.Join(base(t), "run"))
	if err != nil {
		t.Fatal(err)
	}
	return ws
}

func TestExitCodeAndOutput(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	var out syncBuffer
	res, err := e.Run(t.Context(), executor.StepSpec{Name: "x", Script: "echo out; echo err >&2; exit 3", Workspace: ws}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 3 || res.TimedOut || res.Cancelled {
		t.Errorf("result = %+v, want exit 3", res)
	}
	if got := out.String(); got != "out\nerr\n" {
		t.Errorf("output = %q", got)
	}
}

// TestCleanEnvironment checks that a step sees PATH, HOME, LANG and what
// the step asked for, and nothing of the server's environment.
func TestCleanEnvironment(t *testing.T) {
	t.Setenv("BERTH_TEST_SERVER_SECRET", "leaked")
	e := newExec(t)
	ws := prepare(t, e)
	var out syncBuffer
	res, err := e.Run(t.Context(), executor.StepSpec{
		Name: "env", Script: "env", Workspace: ws,
		Env:     map[string]string{"GOFLAGS": "-mod=vendor", "LEVEL": "3"},
		Secrets: map[string]string{"TOKEN": "s3cret"},
	}, &out)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	var names []string
	vars := map[string]string{}
	for line := range strings.Lines(out.String()) {
		k, v, _ := strings.Cut(strings.TrimSuffix(line, "\n"), "=")
		switch k {
		case "PWD", "SHLVL", "_", "OLDPWD": // set by the shell itself
			continue
		}
		names = append(names, k)
		vars[k] = v
	}
	slices.Sort(names)
	if want := []string{"GOFLAGS", "HOME", "LANG", "LEVEL", "PATH", "TOKEN"}; !slices.Equal(names, want) {
		t.Errorf("step saw %v, want exactly %v\n%s", names, want, out.String())
	}
	if vars["HOME"] != ws.Home || vars["TOKEN"] != "s3cret" || vars["PATH"] != DefaultPath {
		t.Errorf("vars = %v", vars)
	}
}

// alive reports whether pid is still a live process a second after the
// step: SIGKILL is sent by then, but a dying process takes a moment to go.
func alive(pid int) bool {
	for range 50 {
		if !running(pid) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// running reports whether pid is a process that is not a zombie.
func running(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// The state follows the ") " that ends the command name.
	i := bytes.LastIndex(stat, []byte(") "))
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	var data []byte
	for range 50 {
		data, _ = os.ReadFile(file)
		if len(bytes.TrimSpace(data)) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("pid file %s: %q", file, data)
	}
	return pid
}

// grandchild starts a shell that starts a sleeping grandchild and waits.
const grandchild = `sh -c 'echo $$ > gc.pid; exec sleep 30' & wait`

func TestTimeoutKillsTheGroup(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	var out syncBuffer
	start := time.Now()
	res, err := e.Run(t.Context(), executor.StepSpec{Name: "slow", Script: grandchild, Workspace: ws, Timeout: 300 * time.Millisecond}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v after a 300ms timeout", took)
	}
	if !res.TimedOut || res.ExitCode == 0 {
		t.Errorf("result = %+v, want timed out with a non-zero code", res)
	}
	if pid := readPID(t, filepath.Join(ws.Src, "gc.pid")); alive(pid) {
		t.Errorf("grandchild %d survived the timeout", pid)
	}
	if !strings.Contains(out.String(), "timed out") {
		t.Errorf("log = %q", out.String())
	}
}

func TestCancelKillsTheGroup(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(300*time.Millisecond, cancel)
	var out syncBuffer
	res, err := e.Run(ctx, executor.StepSpec{Name: "c", Script: "trap '' TERM; " + grandchild, Workspace: ws}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Cancelled || res.ExitCode != 128+int(syscall.SIGKILL) {
		t.Errorf("result = %+v, want cancelled and killed (TERM was ignored)", res)
	}
	if pid := readPID(t, filepath.Join(ws.Src, "gc.pid")); alive(pid) {
		t.Errorf("grandchild %d survived the cancel", pid)
	}
}

// TestBackgroundLeftoversDie checks that a process a step leaves running
// does not outlive it nor hold the step open.
func TestBackgroundLeftoversDie(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	start := time.Now()
	res, err := e.Run(t.Context(), executor.StepSpec{Name: "bg", Script: "sleep 30 & echo $! > bg.pid; echo done", Workspace: ws}, &syncBuffer{})
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v", res, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Run took %v; the background sleep held it", took)
	}
	if pid := readPID(t, filepath.Join(ws.Src, "bg.pid")); alive(pid) {
		t.Errorf("background process %d survived the step", pid)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: when the server is not root, steps run as its own user and CAN read its data directory (see docs/pipelines.md)")
	}
}

// TestStepCannotReadDataDir stands a 0700 root-owned folder for the
// server's data directory and checks a step cannot list or read it.
func TestStepCannotReadDataDir(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newExec(t)
	if !e.Unprivileged() {
		t.Fatal("running as root, but steps are not unprivileged")
	}
	dir := base(t)
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, "admin-token"), []byte("root-only"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws, err := e.Prepare(t.Context(), filepath.Join(dir, "run"))
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	script := "id -u; cat " + data + "/admin-token; ls " + data + "; touch " + data + "/x; echo exit=$?"
	res, err := e.Run(t.Context(), executor.StepSpec{Name: "snoop", Script: script, Workspace: ws}, &out)
	if err != nil {
		t.Fatal(err)
	}
	log := out.String()
	if strings.Contains(log, "root-only") || strings.Contains(log, "admin-token\n") {
		t.Errorf("step read the data directory:\n%s", log)
	}
	if !strings.HasPrefix(log, strconv.Itoa(e.cred.uid)+"\n") || strings.Count(log, "Permission denied") < 3 || !strings.Contains(log, "exit=1") {
		t.Errorf("want the step user's uid and three refusals:\n%s", log)
	}
	if res.ExitCode != 0 {
		t.Errorf("exit = %d", res.ExitCode)
	}
	// The step user can write its own workspace and home.
	res, err = e.Run(t.Context(), executor.StepSpec{Name: "w", Script: "touch a ~/b", Workspace: ws}, &out)
	if err != nil || res.ExitCode != 0 {
		t.Errorf("writing the workspace: %+v, %v\n%s", res, err, out.String())
	}
}

func TestWorkspaceInsideDataDirRefused(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	e := newExec(t)
	data := filepath.Join(base(t), "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := e.Prepare(t.Context(), filepath.Join(data, "runs", "1"))
	if err == nil || !strings.Contains(err.Error(), "put run workspaces outside the server's data directory") {
		t.Errorf("Prepare = %v", err)
	}
}

func TestNotRoot(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("runs when the server is not root")
	}
	if newExec(t).Unprivileged() {
		t.Error("not root, yet steps claim to run as another user")
	}
}

func TestArtifacts(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	arts := filepath.Join(base(t), "artifacts")
	script := `mkdir -p bin/sub dist/x dist/y tmp
echo app > bin/app; chmod +x bin/app
echo lib > bin/sub/lib.so
ln -s /etc/passwd bin/passwd
ln -s / bin/root
mkfifo bin/fifo
echo t > dist/x/a.tar.gz; echo z > dist/y/b.zip
echo no > tmp/junk`
	var out syncBuffer
	res, err := e.Run(t.Context(), executor.StepSpec{
		Name: "build", Script: script, Workspace: ws, ArtifactDir: arts,
		Artifacts: []string{"bin/", "dist/**/*.tar.gz", "missing/"},
	}, &out)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("Run = %+v, %v\n%s", res, err, out.String())
	}
	want := []string{"bin/app", "bin/sub/lib.so", "dist/x/a.tar.gz"}
	if !slices.Equal(res.Artifacts, want) {
		t.Errorf("artifacts = %v, want %v", res.Artifacts, want)
	}
	var found []string
	_ = filepath.WalkDir(arts, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(arts, p)
			found = append(found, rel)
		}
		return nil
	})
	if !slices.Equal(found, want) {
		t.Errorf("artifact folder holds %v, want %v", found, want)
	}
	if fi, err := os.Stat(filepath.Join(arts, "bin/app")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/app: %v %v", fi, err)
	}
	for _, s := range []string{"skipped symlink bin/passwd", "skipped symlink bin/root", "nothing matches missing/", "3 files saved"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("log lacks %q:\n%s", s, out.String())
		}
	}
}

func TestArtifactsNotOnFailure(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	arts := filepath.Join(base(t), "artifacts")
	res, err := e.Run(t.Context(), executor.StepSpec{Name: "b", Script: "mkdir bin; echo x > bin/a; exit 1", Workspace: ws, ArtifactDir: arts, Artifacts: []string{"bin"}}, &syncBuffer{})
	if err != nil || res.ExitCode != 1 || len(res.Artifacts) != 0 {
		t.Errorf("Run = %+v, %v", res, err)
	}
	if _, err := os.Stat(arts); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("artifact folder made for a failed step: %v", err)
	}
}

func TestArtifactLimit(t *testing.T) {
	t.Parallel()
	e, err := New(t.Context(), Options{MaxArtifactBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ws := prepare(t, e)
	_, err = e.Run(t.Context(), executor.StepSpec{Name: "big", Script: "head -c 5000 /dev/zero > big", Workspace: ws, ArtifactDir: filepath.Join(base(t), "a"), Artifacts: []string{"big"}}, &syncBuffer{})
	if !errors.Is(err, errBudget) {
		t.Errorf("Run = %v, want the size limit", err)
	}
}

func TestCache(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	caches := filepath.Join(base(t), "caches")
	cache := &executor.CacheSpec{Key: `deps-{{ hash "go.sum" }}`, Paths: []string{"vendor", "~/.cache/tool"}, Dir: caches}
	script := `test -f vendor/dep && echo warm || echo cold
mkdir -p vendor ~/.cache/tool; echo dep > vendor/dep; echo obj > ~/.cache/tool/obj`

	run := func(sum string) (executor.Result, string, executor.Workspace) {
		ws := prepare(t, e)
		if err := os.WriteFile(filepath.Join(ws.Src, "go.sum"), []byte(sum), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := e.Prepare(t.Context(), ws.Root); err != nil { // hand go.sum to the step user
			t.Fatal(err)
		}
		var out syncBuffer
		res, err := e.Run(t.Context(), executor.StepSpec{Name: "deps", Script: script, Workspace: ws, Cache: cache}, &out)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("Run = %+v, %v\n%s", res, err, out.String())
		}
		return res, out.String(), ws
	}
	r1, log1, _ := run("v1")
	if r1.CacheHit || !r1.CacheSaved || !strings.HasPrefix(r1.CacheKey, "deps-") || !strings.Contains(log1, "cold") {
		t.Fatalf("first run = %+v\n%s", r1, log1)
	}
	r2, log2, ws2 := run("v1")
	if !r2.CacheHit || r2.CacheSaved || r2.CacheKey != r1.CacheKey || !strings.Contains(log2, "warm") {
		t.Fatalf("second run = %+v\n%s", r2, log2)
	}
	if data, err := os.ReadFile(filepath.Join(ws2.Home, ".cache/tool/obj")); err != nil || string(data) != "obj\n" {
		t.Errorf("home cache not restored: %q %v", data, err)
	}
	if e.cred != nil {
		fi, err := os.Stat(filepath.Join(ws2.Src, "vendor/dep"))
		if err != nil || int(fi.Sys().(*syscall.Stat_t).Uid) != e.cred.uid {
			t.Errorf("restored file not owned by the step user: %v", err)
		}
	}
	// A restore marks the key's folder used (the server's sweep removes
	// caches unused for --pipeline-cache-ttl by that time).
	keyDir := filepath.Join(caches, r1.CacheKey)
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(keyDir, old, old); err != nil {
		t.Fatal(err)
	}
	if r, _, _ := run("v1"); !r.CacheHit {
		t.Fatalf("third run = %+v", r)
	}
	if fi, err := os.Stat(keyDir); err != nil || fi.ModTime().Before(time.Now().Add(-time.Hour)) {
		t.Errorf("the restored cache's folder was not marked used: %v %v", fi.ModTime(), err)
	}
	r3, log3, _ := run("v2")
	if r3.CacheHit || r3.CacheKey == r1.CacheKey || !strings.Contains(log3, "cold") {
		t.Errorf("changed go.sum still hit the cache: %+v\n%s", r3, log3)
	}
}

func TestCacheKeyRefusesEscape(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	if err := os.Symlink("/etc/passwd", filepath.Join(ws.Src, "go.sum")); err != nil {
		t.Fatal(err)
	}
	_, err := e.Run(t.Context(), executor.StepSpec{Name: "x", Script: "true", Workspace: ws,
		Cache: &executor.CacheSpec{Key: `k-{{ hash "go.sum" }}`, Paths: []string{"v"}, Dir: filepath.Join(base(t), "c")}}, &syncBuffer{})
	if err == nil {
		t.Error("a cache key hashed a file outside the workspace through a symlink")
	}
}

// TestArtifactCollectionNeverLeavesTheCheckout collects a step's artifacts
// again and again while the checkout's artifact folder keeps being
// swapped for a symlink to a folder outside (a step running in parallel
// can do that between the walk and the copy). Collection may fail, but no
// copy may ever hold the outside files, nor any error their content.
func TestArtifactCollectionNeverLeavesTheCheckout(t *testing.T) {
	t.Parallel()
	e := newExec(t)
	ws := prepare(t, e)
	secret := "outside-secret-" + t.Name()
	outside := t.TempDir()
	// The same names inside and outside: opening any listed file while
	// the folder is a link would read the outside one.
	for i := range 64 {
		name := "f" + strconv.Itoa(i)
		writeFile(t, filepath.Join(outside, name), secret)
		writeFile(t, filepath.Join(ws.Src, "out", name), "inside")
	}
	swaptest.Folder(t, filepath.Join(ws.Src, "out"), outside)

	arts := filepath.Join(base(t), "artifacts")
	deadline := time.Now().Add(3 * time.Second)
	runs, failed := 0, 0
	for ; time.Now().Before(deadline); runs++ {
		var log syncBuffer
		_, err := e.collectArtifacts(t.Context(), executor.StepSpec{
			Name: "build", Workspace: ws, ArtifactDir: arts, Artifacts: []string{"out/", "out/f1", "out/*"},
		}, &log)
		if err != nil {
			failed++
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("collection %d: the error holds an outside file: %v", runs, err)
			}
		}
		if strings.Contains(log.String(), secret) {
			t.Fatalf("collection %d: the log holds an outside file", runs)
		}
		_ = filepath.WalkDir(arts, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), secret) {
				t.Fatalf("collection %d: %s holds a file from outside the checkout", runs, p)
			}
			return nil
		})
		if err := os.RemoveAll(arts); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d collections, %d failed while the folder was swapped", runs, failed)
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
