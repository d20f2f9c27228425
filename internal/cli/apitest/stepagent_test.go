package apitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// TestStepAgentUpload runs the very agent command a cluster step's pod
// runs ("berth step-agent upload") against a real API server over real
// HTTP: its own run and step's token stores and records the archive;
// another step's or run's token (401), an ended step's (403), an
// oversized archive (413) and a hostile one (422) store nothing.
func TestStepAgentUpload(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const limit = 64 << 10
	db, blobs, srv := agentServer(t, apiserver.Deps{MaxArtifactBytes: limit})

	now := time.Now().UTC()
	if err := db.CreateApp(ctx, store.App{Name: "shop", Team: "team_a", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	step := func(name, status, tok string) store.RunStep {
		tokens[tok] = "bst_" + strings.Repeat(tok, 8)
		return store.RunStep{Name: name, Kind: "run", Status: status, UploadToken: artifact.HashToken(tokens[tok])}
	}
	for _, r := range []store.Run{
		{ID: "shop.1", Number: 1, State: store.RunRunning, Steps: []store.RunStep{step("build", "running", "a"), step("lint", "running", "b")}},
		{ID: "shop.2", Number: 2, State: store.RunRunning, Steps: []store.RunStep{step("build", "running", "c")}},
		{ID: "shop.3", Number: 3, State: store.RunSucceeded, Steps: []store.RunStep{step("build", "success", "d")}},
		{ID: "shop.4", Number: 4, State: store.RunRunning, Steps: []store.RunStep{step("build", "running", "e")}},
	} {
		r.App, r.Team, r.Trigger, r.CreatedAt = "shop", "team_a", "manual", now
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	parent := t.TempDir()
	work := filepath.Join(parent, "src")
	writeFiles(t, work, map[string]string{"bin/web": "web binary", "dist/a.js": "js", "notes.txt": "not kept"})
	writeFiles(t, parent, map[string]string{"secret": "outside the checkout"})
	if err := os.Symlink(filepath.Join(parent, "secret"), filepath.Join(work, "bin", "leak")); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 2*limit)
	_, _ = rand.Read(big) // incompressible
	if err := os.WriteFile(filepath.Join(work, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	agent := func(tok, run, stepName string, patterns ...string) (int, string) {
		var out, errOut bytes.Buffer
		args := append([]string{"step-agent", "upload", "--url", srv.URL + "/api/v1/runs/" + run + "/artifacts/" + stepName, "--dir", work}, patterns...)
		code := cli.Execute(context.Background(), args, cli.Options{
			Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string { return map[string]string{cli.StepTokenEnv: tok}[k] },
		})
		return code, out.String() + errOut.String()
	}

	code, out := agent(tokens["a"], "shop.1", "build", "bin/", "dist/*.js", "../secret")
	if code == 0 || !strings.Contains(out, "outside the checkout") {
		t.Fatalf("a pattern leaving the checkout: exit %d\n%s", code, out)
	}
	code, out = agent(tokens["a"], "shop.1", "build", "bin/", "dist/*.js")
	if code != 0 || !strings.Contains(out, "2 files sent") || !strings.Contains(out, "skipped symlink bin/leak") {
		t.Fatalf("upload with the step's own token: exit %d\n%s", code, out)
	}
	run, err := db.GetRun(ctx, "shop.1")
	if err != nil {
		t.Fatal(err)
	}
	a := run.Steps[0].Artifacts
	if a == nil || !slices.Equal(a.Files, []string{"bin/web", "dist/a.js"}) {
		t.Fatalf("recorded = %+v", a)
	}
	rc, _, err := blobs.Open(ctx, a.Digest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := artifact.Extract(rc, t.TempDir(), 1<<20)
	rc.Close()
	if err != nil || len(got) != 2 {
		t.Fatalf("stored archive: %v, %v", got, err)
	}

	for _, tc := range []struct {
		desc, tok, run, step string
		patterns             []string
		status               string
	}{
		{"another step's token", tokens["a"], "shop.1", "lint", []string{"bin/"}, "401"},
		{"another run's token", tokens["c"], "shop.1", "lint", []string{"bin/"}, "401"},
		{"a wrong token", "bst_wrong", "shop.2", "build", []string{"bin/"}, "401"},
		{"a run that does not exist", tokens["a"], "shop.9", "build", []string{"bin/"}, "401"},
		{"an ended step's token", tokens["d"], "shop.3", "build", []string{"bin/"}, "403"},
		{"an archive over the limit", tokens["e"], "shop.4", "build", []string{"big.bin"}, "413"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			code, out := agent(tc.tok, tc.run, tc.step, tc.patterns...)
			if code != 1 || !strings.Contains(out, "answered "+tc.status) {
				t.Fatalf("exit %d, want 1 with %s\n%s", code, tc.status, out)
			}
			r, err := db.GetRun(ctx, tc.run)
			if err == nil {
				for _, st := range r.Steps {
					if st.Artifacts != nil && r.ID != "shop.1" || (r.ID == "shop.1" && st.Name == "lint" && st.Artifacts != nil) {
						t.Errorf("run %s step %s recorded %+v", r.ID, st.Name, st.Artifacts)
					}
				}
			}
		})
	}

	// A hostile archive, sent by hand with a good token, is refused.
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "../../etc/cron.d/x", Size: 1, Mode: 0o644})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	_ = gz.Close()
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/runs/shop.2/artifacts/build", &buf)
	req.Header.Set(artifact.TokenHeader, tokens["c"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r, _ := db.GetRun(ctx, "shop.2"); resp.StatusCode != http.StatusUnprocessableEntity || r.Steps[0].Artifacts != nil {
		t.Fatalf("hostile archive: %d, recorded %+v", resp.StatusCode, r.Steps[0].Artifacts)
	}
	if ds, _ := blobs.Digests(); len(ds) != 1 {
		t.Errorf("%d blobs stored, want only the good upload's", len(ds))
	}
}

// agentServer is a real API server on loopback over a fresh SQLite store
// and blob folder, with d's limits, for the step agent to talk to; wrap,
// if given, wraps the folder as the server sees it.
func agentServer(t *testing.T, d apiserver.Deps, wrap ...func(blob.Store) blob.Store) (*sqlite.DB, *blob.Dir, *httptest.Server) {
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
	d.Store, d.Blobs, d.Logger = db, blobs, slog.New(slog.DiscardHandler)
	for _, w := range wrap {
		d.Blobs = w(d.Blobs)
	}
	srv := httptest.NewServer(apiserver.New(d))
	t.Cleanup(srv.Close)
	return db, blobs, srv
}
