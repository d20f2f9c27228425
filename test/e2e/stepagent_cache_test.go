package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
)

// TestStepAgentBinaryCache runs the built berth binary's cache commands —
// what a cluster step's pod runs around its script — against a real API
// server over HTTP, as two runs' pods would: the first restore misses
// (exit 10) and the save stores the checkout's and home's files; the
// next run's restore, into empty folders, brings them back byte for byte
// and modes intact. The key is the one on each step, never the agent's.
func TestStepAgentBinaryCache(t *testing.T) {
	ctx := t.Context()
	db, _, srv := podServer(t)
	now := time.Now().UTC()
	const key = "deps-0123456789abcdef"
	toks := map[string]string{"pod.1": "bst_e2e-cache-first", "pod.2": "bst_e2e-cache-second"}
	for i, id := range []string{"pod.1", "pod.2"} {
		err := db.CreateRun(ctx, store.Run{ID: id, App: "pod", Team: "team_a", Number: i + 1, Trigger: "manual", State: store.RunRunning, CreatedAt: now,
			Steps: []store.RunStep{{Name: "deps", Kind: "run", Status: "running", UploadToken: artifact.HashToken(toks[id]), Cache: &store.StepCache{Key: key}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	agent := func(run, src, home string, args ...string) (string, int) {
		cmd := exec.CommandContext(ctx, berthBin, append([]string{"step-agent", "cache", args[0], "--url", srv.URL + "/api/v1/runs/" + run + "/cache/deps"}, args[1:]...)...)
		cmd.Dir = src
		cmd.Env = []string{"BERTH_STEP_TOKEN=" + toks[run], "BERTH_CACHE_KEY=" + key, "HOME=" + home, "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	files := map[string]os.FileMode{"vendor/mod/a.go": 0o644, "vendor/tool": 0o755, "~/.cache/build/obj": 0o644}
	place := func(src, home, name string) string {
		if h, ok := strings.CutPrefix(name, "~/"); ok {
			return filepath.Join(home, h)
		}
		return filepath.Join(src, name)
	}
	src1, home1 := t.TempDir(), t.TempDir()
	if out, code := agent("pod.1", src1, home1, "restore"); code != 10 || !strings.Contains(out, "no cache for key "+key) {
		t.Fatalf("first restore: exit %d, want 10 (a miss)\n%s", code, out)
	}
	for name, mode := range files {
		p := place(src1, home1, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+name), mode); err != nil {
			t.Fatal(err)
		}
	}
	if out, code := agent("pod.1", src1, home1, "save", "--count", "2", "--", "vendor", "~/.cache/build", "bin/"); code != 0 || !strings.Contains(out, "saved key "+key+" (3 files)") {
		t.Fatalf("save: exit %d\n%s", code, out)
	}
	src2, home2 := t.TempDir(), t.TempDir()
	if out, code := agent("pod.2", src2, home2, "restore"); code != 0 || !strings.Contains(out, "restored key "+key+" (3 files)") {
		t.Fatalf("second run's restore: exit %d\n%s", code, out)
	}
	for name, mode := range files {
		p := place(src2, home2, name)
		got, err := os.ReadFile(p)
		if err != nil || string(got) != "content of "+name {
			t.Errorf("restored %s = %q (%v), want the saved file", name, got, err)
			continue
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("restored %s: mode %v (%v), want %v", name, fi.Mode().Perm(), err, mode)
		}
	}
	run, err := db.GetRun(ctx, "pod.2")
	if err != nil {
		t.Fatal(err)
	}
	if c := run.Steps[0].Cache; c == nil || !c.Hit || c.Key != key {
		t.Errorf("pod.2's step records %+v, want a hit of %s", c, key)
	}
}
