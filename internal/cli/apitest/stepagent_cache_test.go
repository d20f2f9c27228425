package apitest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
)

// TestStepAgentCache runs the agent's cache commands, as a cluster step's
// pod runs them, against a real API server over real HTTP: a miss, a
// save, then a hit in another run that restores the files byte for byte;
// the key is the one the server wrote on the step, so another app's step
// with the same key misses. Wrong, other steps', ended steps' tokens, a
// step without a cache, an oversized and a hostile archive store nothing.
func TestStepAgentCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const limit = 64 << 10
	db, blobs, srv := agentServer(t, apiserver.Deps{MaxCacheBytes: limit})

	now := time.Now().UTC()
	for _, app := range []string{"shop", "blog"} {
		if err := db.CreateApp(ctx, store.App{Name: app, Team: "team_" + app, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	step := func(name, status, tok, key string) store.RunStep {
		tokens[tok] = "bst_" + strings.Repeat(tok, 8)
		st := store.RunStep{Name: name, Kind: "run", Status: status, UploadToken: artifact.HashToken(tokens[tok])}
		if key != "" {
			st.Cache = &store.StepCache{Key: key}
		}
		return st
	}
	for _, r := range []store.Run{
		{ID: "shop.1", App: "shop", Number: 1, State: store.RunRunning, Steps: []store.RunStep{step("test", "running", "a", "deps-1"), step("lint", "running", "x", "")}},
		{ID: "shop.2", App: "shop", Number: 2, State: store.RunRunning, Steps: []store.RunStep{step("test", "running", "b", "deps-1")}},
		{ID: "shop.3", App: "shop", Number: 3, State: store.RunSucceeded, Steps: []store.RunStep{step("test", "success", "c", "deps-2")}},
		{ID: "shop.4", App: "shop", Number: 4, State: store.RunRunning, Steps: []store.RunStep{step("test", "running", "d", "deps-2")}},
		{ID: "blog.1", App: "blog", Number: 1, State: store.RunRunning, Steps: []store.RunStep{step("test", "running", "g", "deps-1")}},
	} {
		r.Team, r.Trigger, r.CreatedAt = "team_"+r.App, "manual", now
		if err := db.CreateRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	agent := func(tok, run, stepName, src, home string, args ...string) (int, string) {
		var out, errOut bytes.Buffer
		full := append([]string{"step-agent", "cache", args[0], "--url", srv.URL + "/api/v1/runs/" + run + "/cache/" + stepName, "--dir", src, "--home", home}, args[1:]...)
		code := cli.Execute(context.Background(), full, cli.Options{
			Stdout: &out, Stderr: &errOut,
			Getenv: func(k string) string {
				return map[string]string{cli.StepTokenEnv: tok, cli.CacheKeyEnv: "deps-1"}[k]
			},
		})
		return code, out.String() + errOut.String()
	}
	src, home := t.TempDir(), t.TempDir()
	files := map[string]string{"vendor/a/a.go": "package a", "vendor/b.txt": "bee"}
	writeFiles(t, src, files)
	homeFiles := map[string]string{".cache/go/x": "built object"}
	writeFiles(t, home, homeFiles)

	code, out := agent(tokens["a"], "shop.1", "test", src, home, "restore")
	if code != cli.ExitCacheMiss || !strings.Contains(out, "no cache for key deps-1") {
		t.Fatalf("first restore: exit %d, want a miss\n%s", code, out)
	}
	code, out = agent(tokens["a"], "shop.1", "test", src, home, "save", "vendor", "~/.cache/go")
	if code != 0 || !strings.Contains(out, "saved key deps-1 (3 files)") {
		t.Fatalf("save: exit %d\n%s", code, out)
	}
	c, err := db.GetPipelineCache(ctx, "shop", "deps-1")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := db.GetRun(ctx, "shop.1"); r.Steps[0].Cache == nil || !r.Steps[0].Cache.Saved || r.Steps[0].Cache.Hit {
		t.Errorf("shop.1's step records %+v, want saved", r.Steps[0].Cache)
	}

	// The next run of the app hits, and gets the files back as they were.
	src2, home2 := t.TempDir(), t.TempDir()
	code, out = agent(tokens["b"], "shop.2", "test", src2, home2, "restore")
	if code != 0 || !strings.Contains(out, "restored key deps-1 (3 files)") {
		t.Fatalf("second run's restore: exit %d\n%s", code, out)
	}
	for dir, fs := range map[[2]string]map[string]string{{src, src2}: files, {home, home2}: homeFiles} {
		for name, body := range fs {
			got, err := os.ReadFile(filepath.Join(dir[1], name))
			if err != nil || string(got) != body {
				t.Errorf("restored %s = %q (%v), want %q", name, got, err, body)
			}
		}
	}
	if r, _ := db.GetRun(ctx, "shop.2"); r.Steps[0].Cache == nil || !r.Steps[0].Cache.Hit || r.Steps[0].Cache.Saved {
		t.Errorf("shop.2's step records %+v, want a hit", r.Steps[0].Cache)
	}
	if used, _ := db.GetPipelineCache(ctx, "shop", "deps-1"); used.LastUsedAt.Before(c.LastUsedAt) || used.Digest != c.Digest {
		t.Errorf("after the hit: %+v (was %+v)", used, c)
	}
	// A second save of the key is accepted and stores nothing.
	writeFiles(t, src2, map[string]string{"vendor/new": "changed"})
	code, out = agent(tokens["b"], "shop.2", "test", src2, home2, "save", "vendor")
	if code != 0 || !strings.Contains(out, "saved by another run first") {
		t.Fatalf("second save: exit %d\n%s", code, out)
	}
	if again, _ := db.GetPipelineCache(ctx, "shop", "deps-1"); again.Digest != c.Digest {
		t.Errorf("the second save replaced the cache: %s, was %s", again.Digest, c.Digest)
	}
	// Another app's step with the same key text reaches its own app's
	// caches only.
	code, out = agent(tokens["g"], "blog.1", "test", t.TempDir(), t.TempDir(), "restore")
	if code != cli.ExitCacheMiss {
		t.Fatalf("another app's restore: exit %d, want a miss\n%s", code, out)
	}

	before, _ := blobs.Digests()
	big := make([]byte, 2*limit)
	_, _ = rand.Read(big) // incompressible
	bigDir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bigDir, "vendor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bigDir, "vendor", "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		desc, tok, run, step, src, status string
	}{
		{"another step's token", tokens["a"], "shop.2", "test", src, "401"},
		{"another run's step token", tokens["x"], "shop.1", "test", src, "401"},
		{"a wrong token", "bst_wrong", "shop.4", "test", src, "401"},
		{"an ended step's token", tokens["c"], "shop.3", "test", src, "403"},
		{"a step without a cache", tokens["x"], "shop.1", "lint", src, "409"},
		{"a cache over the limit", tokens["d"], "shop.4", "test", bigDir, "413"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			code, out := agent(tc.tok, tc.run, tc.step, tc.src, t.TempDir(), "save", "vendor")
			if code != 1 || !strings.Contains(out, "answered "+tc.status) {
				t.Fatalf("save: exit %d, want 1 with %s\n%s", code, tc.status, out)
			}
			code, out = agent(tc.tok, tc.run, tc.step, t.TempDir(), t.TempDir(), "restore")
			if tc.status != "413" && (code != cli.ExitCacheMiss || !strings.Contains(out, "answered "+tc.status)) {
				t.Fatalf("restore: exit %d, want a miss with %s\n%s", code, tc.status, out)
			}
		})
	}
	if _, err := db.GetPipelineCache(ctx, "shop", "deps-2"); err == nil {
		t.Error("a refused save stored a cache of deps-2")
	}

	// A hostile archive, sent by hand with a good token, is refused: a
	// name outside src/ and home/, and one leaving its folder.
	for _, name := range []string{"etc/cron.d/x", "src/../../etc/x"} {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: 1, Mode: 0o644})
		_, _ = tw.Write([]byte("x"))
		_ = tw.Close()
		_ = gz.Close()
		req, _ := http.NewRequest(http.MethodPut, srv.URL+"/api/v1/runs/shop.4/cache/test", &buf)
		req.Header.Set(artifact.TokenHeader, tokens["d"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("hostile archive %s: %d, want 422", name, resp.StatusCode)
		}
	}
	if _, err := db.GetPipelineCache(ctx, "shop", "deps-2"); err == nil {
		t.Error("a hostile archive was stored as deps-2")
	}
	if after, _ := blobs.Digests(); len(after) != len(before) {
		t.Errorf("%d blobs after the refused saves, %d before", len(after), len(before))
	}
	if r, _ := db.GetRun(ctx, "shop.4"); r.Steps[0].Cache.Saved || r.Steps[0].Cache.Hit {
		t.Errorf("shop.4 records %+v", r.Steps[0].Cache)
	}
}
