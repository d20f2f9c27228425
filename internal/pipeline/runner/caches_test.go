package runner

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// A local run's steps record what became of their cache: the first run
// misses and saves, the next one of the same go.sum hits.
func TestLocalCacheIsRecordedOnTheStep(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "cached", `on: [manual]
steps:
  - name: deps
    run: test -f vendor/dep || { mkdir -p vendor && echo dep > vendor/dep; }
    cache: {key: 'deps-{{ hash "berth.yaml" }}', paths: [vendor]}
`, envOpts{})
	var got []*store.StepCache
	for range 2 {
		run := e.waitEnd(e.manual("cached", nil).ID)
		if run.State != store.RunSucceeded {
			t.Fatalf("run = %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
		}
		got = append(got, stepOf(run, "deps").Cache)
	}
	if got[0] == nil || got[1] == nil || got[0].Key != got[1].Key || len(got[0].Key) != len("deps-")+16 {
		t.Fatalf("cache records %+v, %+v", got[0], got[1])
	}
	if got[0].Hit || !got[0].Saved || !got[1].Hit || got[1].Saved {
		t.Errorf("first %+v (want a saving miss), second %+v (want a hit)", got[0], got[1])
	}
}

// PruneCaches removes what no step restored for CacheTTL, on both
// executors: the store's rows of cluster caches and the local executor's
// key folders (with removals a crash left half done); it keeps the rest
// and counts what it removed.
func TestPruneCaches(t *testing.T) {
	t.Parallel()
	now := time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newEnv(t, envOpts{noStart: true, tweak: func(o *Options) {
		o.Now = func() time.Time { return now }
		o.CacheTTL = 48 * time.Hour
	}})
	ctx := t.Context()
	if err := e.st.CreateApp(ctx, store.App{Name: "shop", Team: "t", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for key, used := range map[string]time.Duration{"old": 72 * time.Hour, "fresh": time.Hour} {
		c := store.PipelineCache{App: "shop", Key: key, Digest: "sha256:" + key, Size: 1, CreatedAt: now.Add(-100 * time.Hour), LastUsedAt: now.Add(-used)}
		if _, err := e.st.CreatePipelineCache(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	dir := e.r.cacheDir("shop")
	for key, used := range map[string]time.Duration{"old": 72 * time.Hour, ".gone-crashed": 96 * time.Hour, "fresh": time.Hour} {
		p := filepath.Join(dir, key, "src", "vendor")
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "dep"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := now.Add(-used)
		if err := os.Chtimes(filepath.Join(dir, key), at, at); err != nil {
			t.Fatal(err)
		}
	}
	n, err := e.r.PruneCaches(ctx)
	if err != nil || n != 3 {
		t.Fatalf("PruneCaches = %d, %v; want 3 (a row, a folder, a half-removed folder)", n, err)
	}
	if _, err := e.st.GetPipelineCache(ctx, "shop", "old"); err == nil {
		t.Error("the unused cluster cache is still stored")
	}
	if _, err := e.st.GetPipelineCache(ctx, "shop", "fresh"); err != nil {
		t.Errorf("the used cluster cache went: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "fresh" {
		t.Errorf("local caches left: %v, want fresh only", entries)
	}
	if c, l := e.r.CachesRemoved("cluster"), e.r.CachesRemoved("local"); c != 1 || l != 2 {
		t.Errorf("counted %d cluster and %d local removals, want 1 and 2", c, l)
	}
	if n, err := e.r.PruneCaches(ctx); err != nil || n != 0 {
		t.Errorf("second PruneCaches = %d, %v; want nothing", n, err)
	}
}
