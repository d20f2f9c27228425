package e2e

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// TestStepAgentBinaryUploads runs the built berth binary's step agent —
// the command a cluster step's pod runs after its script — against a real
// API server over HTTP, as a pod would: with its step's token the archive
// is stored and recorded on the step; with another step's token the
// server answers 401 and nothing is stored.
func TestStepAgentBinaryUploads(t *testing.T) {
	ctx := t.Context()
	db, blobs, srv := podServer(t)
	now := time.Now().UTC()
	const good, other = "bst_e2e-good-token", "bst_e2e-other-token"
	err := db.CreateRun(ctx, store.Run{ID: "pod.1", App: "pod", Team: "team_a", Number: 1, Trigger: "manual", State: store.RunRunning, CreatedAt: now,
		Steps: []store.RunStep{
			{Name: "build", Kind: "run", Status: "running", UploadToken: artifact.HashToken(good)},
			{Name: "lint", Kind: "run", Status: "running", UploadToken: artifact.HashToken(other)},
		}})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	if err := os.MkdirAll(filepath.Join(work, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "bin", "app"), []byte("built"), 0o755); err != nil {
		t.Fatal(err)
	}
	agent := func(tok, step string) (string, int) {
		cmd := exec.CommandContext(ctx, berthBin, "step-agent", "upload", "--url", srv.URL+"/api/v1/runs/pod.1/artifacts/"+step, "--", "bin/")
		cmd.Dir = work
		cmd.Env = []string{"BERTH_STEP_TOKEN=" + tok, "PATH=/usr/bin:/bin"}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := agent(other, "build"); code != 1 || !strings.Contains(out, "401") {
		t.Fatalf("another step's token: exit %d\n%s", code, out)
	}
	if ds, _ := blobs.Digests(); len(ds) != 0 {
		t.Fatalf("a refused upload stored %v", ds)
	}
	if out, code := agent(good, "build"); code != 0 || !strings.Contains(out, "1 files sent") {
		t.Fatalf("the step's own token: exit %d\n%s", code, out)
	}
	run, err := db.GetRun(ctx, "pod.1")
	if err != nil {
		t.Fatal(err)
	}
	a := run.Steps[0].Artifacts
	if a == nil || strings.Join(a.Files, ",") != "bin/app" || run.Steps[1].Artifacts != nil {
		t.Fatalf("recorded: build %+v, lint %+v", a, run.Steps[1].Artifacts)
	}
	if ok, _ := blobs.Has(ctx, a.Digest); !ok {
		t.Fatalf("archive %s not stored", a.Digest)
	}
}

// podServer is a real API server on loopback over a fresh SQLite store
// and blob folder, holding app "pod", for the step agent to talk to.
func podServer(t *testing.T) (*sqlite.DB, *blob.Dir, *httptest.Server) {
	t.Helper()
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	blobs, err := blob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(apiserver.New(apiserver.Deps{Store: db, Blobs: blobs, Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)
	now := time.Now().UTC()
	if err := db.CreateApp(t.Context(), store.App{Name: "pod", Team: "team_a", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return db, blobs, srv
}
