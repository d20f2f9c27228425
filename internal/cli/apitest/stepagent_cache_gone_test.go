package apitest

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	apiserver "github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
)

// openHook is the real folder store, with a hook run before Open: what
// another server or the leader's sweeps did between the restore reading
// the cache's row and opening its archive.
type openHook struct {
	blob.Store
	before func(digest string)
}

func (o openHook) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	if o.before != nil {
		o.before(digest)
	}
	return o.Store.Open(ctx, digest)
}

// TestStepAgentCacheArchiveGone: a cache row whose archive is not in the
// blob store (a restored backup carries rows only; the collector deleted
// an evicted cache's archive) is a clean miss for the agent, the row is
// forgotten and the step's save stores the key again. And when, between
// the restore reading the row and opening its archive, the row was
// evicted and the key saved anew by another run, the restore forgets only
// the row it read: the new cache stays (it did not before: the restore
// deleted the key whatever it named).
func TestStepAgentCacheArchiveGone(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	hook := &openHook{}
	db, _, srv := agentServer(t, apiserver.Deps{}, func(b blob.Store) blob.Store { hook.Store = b; return hook })
	gone := func(n int) string { return fmt.Sprintf("sha256:%064x", n) } // never stored

	now := time.Now().UTC()
	if err := db.CreateApp(ctx, store.App{Name: "shop", Team: "team_shop", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tokens, keys := map[string]string{}, map[string]string{}
	for _, r := range []struct{ id, tok, key string }{{"shop.1", "a", "deps-1"}, {"shop.2", "b", "deps-2"}} {
		tokens[r.id], keys[r.id] = "bst_"+strings.Repeat(r.tok, 8), r.key
		st := store.RunStep{Name: "test", Kind: "run", Status: "running", UploadToken: artifact.HashToken(tokens[r.id]), Cache: &store.StepCache{Key: r.key}}
		run := store.Run{ID: r.id, App: "shop", Team: "team_shop", Number: len(tokens), Trigger: "manual", State: store.RunRunning, Steps: []store.RunStep{st}, CreatedAt: now}
		if err := db.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Key: r.key, Digest: gone(len(tokens)), Size: 10, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	agent := func(run, src string, args ...string) (int, string) {
		var out strings.Builder
		full := append([]string{"step-agent", "cache", args[0], "--url", srv.URL + "/api/v1/runs/" + run + "/cache/test", "--dir", src, "--home", t.TempDir()}, args[1:]...)
		code := cli.Execute(context.Background(), full, cli.Options{
			Stdout: &out, Stderr: &out,
			Getenv: func(k string) string {
				return map[string]string{cli.StepTokenEnv: tokens[run], cli.CacheKeyEnv: keys[run]}[k]
			},
		})
		return code, out.String()
	}

	// The archive is gone: a miss, the row forgotten, and the save that
	// follows a miss stores the key again.
	src := t.TempDir()
	writeFiles(t, src, map[string]string{"vendor/a.txt": "a"})
	if code, out := agent("shop.1", src, "restore"); code != cli.ExitCacheMiss || !strings.Contains(out, "no cache for key deps-1") {
		t.Fatalf("restore of a row without its archive: exit %d, want a miss\n%s", code, out)
	}
	if c, err := db.GetPipelineCache(ctx, "shop", "deps-1"); err == nil {
		t.Fatalf("the row without an archive was kept: %+v", c)
	}
	if code, out := agent("shop.1", src, "save", "vendor"); code != 0 || !strings.Contains(out, "saved key deps-1") {
		t.Fatalf("save after the miss: exit %d\n%s", code, out)
	}
	if c, err := db.GetPipelineCache(ctx, "shop", "deps-1"); err != nil || c.Digest == gone(1) {
		t.Fatalf("after the save: %+v, %v; want a new archive", c, err)
	}

	// Evicted and saved anew between the row's read and the archive's
	// open: the new cache survives the restore that missed.
	fresh := gone(99)
	hook.before = func(digest string) {
		if digest != gone(2) {
			return
		}
		if err := db.DeletePipelineCache(ctx, "shop", "deps-2", gone(2)); err != nil {
			t.Errorf("evict: %v", err)
		}
		if _, err := db.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Key: "deps-2", Digest: fresh, Size: 1, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Errorf("save anew: %v", err)
		}
	}
	if code, out := agent("shop.2", t.TempDir(), "restore"); code != cli.ExitCacheMiss {
		t.Fatalf("restore racing an eviction and a new save: exit %d, want a miss\n%s", code, out)
	}
	if c, err := db.GetPipelineCache(ctx, "shop", "deps-2"); err != nil || c.Digest != fresh {
		t.Errorf("the key saved anew meanwhile: %+v, %v; want it kept with %s", c, err, fresh)
	}
}
