package runner

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
)

// A step's artifacts outlive the run's workspace: each succeeded step's
// files are one archive in the blob store, recorded on its step, holding
// that step's files only; a failed step keeps none.
func TestArtifactsAreKeptAfterTheRun(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "keeper", `on: [manual]
steps:
  - name: build
    run: mkdir -p bin && printf web > bin/web && chmod +x bin/web && printf log > build.log
    artifacts: [bin/, "*.log"]
  - name: docs
    run: mkdir -p site && printf '<h1>' > site/index.html
    artifacts: [site/]
  - name: empty
    run: "true"
    artifacts: [nothing/]
  - name: broken
    needs: [build]
    run: mkdir -p out && echo x > out/f && exit 3
    artifacts: [out/]
`, envOpts{})
	run := e.waitEnd(e.manual("keeper", nil).ID)
	if run.State != store.RunFailed {
		t.Fatalf("run = %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
	}
	for _, tc := range []struct {
		step  string
		files []string
	}{
		{"build", []string{"bin/web", "build.log"}},
		{"docs", []string{"site/index.html"}},
	} {
		a := stepOf(run, tc.step).Artifacts
		if a == nil || !slices.Equal(a.Files, tc.files) || a.Count != len(tc.files) || a.Size <= 0 {
			t.Fatalf("step %s artifacts = %+v; want %v\n%s", tc.step, a, tc.files, e.log(run.ID))
		}
		rc, size, err := e.r.opts.Blobs.Open(t.Context(), a.Digest)
		if err != nil || size != a.Size {
			t.Fatalf("blob %s: size %d, %v", a.Digest, size, err)
		}
		dir := t.TempDir()
		got, err := artifact.Extract(rc, dir, 1<<20)
		rc.Close()
		if err != nil || !slices.Equal(got, tc.files) {
			t.Fatalf("step %s archive = %v, %v", tc.step, got, err)
		}
	}
	for _, s := range []string{"empty", "broken"} {
		if a := stepOf(run, s).Artifacts; a != nil {
			t.Errorf("step %s kept artifacts %+v; want none", s, a)
		}
	}
	if !strings.Contains(e.log(run.ID), "step build: artifacts kept: 2 files") {
		t.Errorf("log does not say what was kept:\n%s", e.log(run.ID))
	}
	// The workspace is gone; the archive still holds the binary, runnable.
	a := stepOf(run, "build").Artifacts
	rc, _, err := e.r.opts.Blobs.Open(t.Context(), a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = artifact.Walk(rc, 1<<20, func(name string, mode int64, content io.Reader) error {
		b, _ := io.ReadAll(content)
		if name == "bin/web" && (string(b) != "web" || mode&0o111 == 0) {
			t.Errorf("bin/web = %q mode %o", b, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Artifacts over the cap fail the step and keep nothing.
func TestArtifactsOverTheCapFailTheStep(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "bigart", `on: [manual]
steps:
  - name: build
    run: mkdir -p bin && head -c 4096 /dev/zero > bin/a && head -c 4096 /dev/zero > bin/b
    artifacts: [bin/]
`, envOpts{tweak: func(o *Options) { o.MaxArtifactBytes = 5000 }})
	run := e.waitEnd(e.manual("bigart", nil).ID)
	st := stepOf(run, "build")
	if run.State != store.RunFailed || st.Artifacts != nil || !strings.Contains(st.Reason, "too large") {
		t.Fatalf("run = %s, build = %+v\n%s", run.State, st, e.log(run.ID))
	}
}

// A step cannot redirect where the server copies a later step's
// artifacts: the copy is staged outside the workspace the steps own, so a
// symlink planted at the workspace's old artifacts folder leads nowhere.
// The staging copy is gone after the run.
func TestArtifactsStagingIsOutOfStepsReach(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	if err := os.Chmod(outside, 0o777); err != nil { // the step user may write the link's target
		t.Fatal(err)
	}
	e, _ := setup(t, "planter", fmt.Sprintf(`on: [manual]
steps:
  - name: plant
    run: ln -s %[1]s "$BERTH_WORKSPACE/artifacts" || true
  - name: build
    needs: [plant]
    run: mkdir -p bin && echo x > bin/evil
    artifacts: [bin/]
`, outside), envOpts{})
	run := e.waitEnd(e.manual("planter", nil).ID)
	if run.State != store.RunSucceeded || stepOf(run, "build").Artifacts == nil {
		t.Fatalf("run = %s (%s), build %+v\n%s", run.State, run.Reason, stepOf(run, "build"), e.log(run.ID))
	}
	var found []string
	_ = filepath.WalkDir(outside, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = append(found, p)
		}
		return nil
	})
	if len(found) > 0 {
		t.Errorf("the server copied artifacts through the planted symlink: %v", found)
	}
	if _, err := os.Stat(e.r.stagingDir(run.ID, "build")); !os.IsNotExist(err) {
		t.Errorf("staging copy left behind: %v", err)
	}
}

// A step cannot put a folder of its choosing where the server reads the
// checkout: the run folder is the server's, so src/ cannot be renamed and
// replaced by a symlink to, say, the data directory, whose files the
// server would then keep as the next step's artifacts.
func TestStepCannotRepointTheCheckout(t *testing.T) {
	if syscall.Geteuid() != 0 {
		t.Skip("steps run as another user only when the server is root")
	}
	t.Parallel()
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "server-secret"), []byte("not for steps"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	e, _ := setup(t, "repoint", fmt.Sprintf(`on: [manual]
steps:
  - name: plant
    run: |
      cd "$BERTH_WORKSPACE" && mv src src.old && ln -s %[1]s src && echo planted || echo refused
  - name: take
    needs: [plant]
    run: "true"
    artifacts: [server-secret]
`, outside), envOpts{})
	run := e.waitEnd(e.manual("repoint", nil).ID)
	log := e.log(run.ID)
	if st := stepOf(run, "take"); st.Artifacts != nil && slices.Contains(st.Artifacts.Files, "server-secret") {
		t.Fatalf("the server kept a file from outside the workspace as an artifact: %+v\n%s", st.Artifacts, log)
	}
	if !strings.Contains(log, "refused") || strings.Contains(log, "planted") {
		t.Errorf("the step could replace src/:\n%s", log)
	}
}
