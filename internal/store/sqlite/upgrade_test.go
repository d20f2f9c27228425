package sqlite_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// TestUpgradeFromVersion15: a store a server of schema 15 left, with an
// app in it, opened by this binary: migrations 16 (pipeline_caches) and
// 17 (nothing on SQLite) apply, and the app's caches work.
func TestUpgradeFromVersion15(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "berth.db")
	old, err := sqlite.OpenVersion(ctx, path, 15)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := old.CreateApp(ctx, store.App{Name: "shop", Ports: map[string]int{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := old.PipelineCacheDigests(ctx); err == nil {
		t.Fatal("schema 15 has pipeline_caches: the test does not start where it says")
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("open the version 15 store: %v", err)
	}
	defer db.Close()
	c := store.PipelineCache{App: "shop", Key: "deps-1", Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Size: 1, CreatedAt: now, LastUsedAt: now}
	if created, err := db.CreatePipelineCache(ctx, c); err != nil || !created {
		t.Fatalf("a cache in the upgraded store: %v, %v", created, err)
	}
	if ds, err := db.PipelineCacheDigests(ctx); err != nil || len(ds) != 1 || ds[0] != c.Digest {
		t.Errorf("PipelineCacheDigests = %v, %v", ds, err)
	}
	if a, err := db.GetApp(ctx, "shop"); err != nil || a.Name != "shop" {
		t.Errorf("the app of schema 15 = %+v, %v", a, err)
	}
}
