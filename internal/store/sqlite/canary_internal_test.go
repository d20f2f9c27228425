package sqlite

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// TestMigrateAddsCanaryToExistingApps upgrades a database written at
// schema version 1: its apps read back with no canary, and the column
// then stores one.
func TestMigrateAddsCanaryToExistingApps(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "old.db")
	w, err := openWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, w, migrations[:1]); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `INSERT INTO apps (name, latest_release, target_release, ports, deleting, status, version, created_at, updated_at)
VALUES ('shop', 2, 2, '{}', 0, '{"release":2,"serving":1,"phase":"Progressing"}', 4, '2025-01-02T03:04:05.000000000Z', '2025-01-02T03:04:05.000000000Z')`); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer db.Close()
	if v := schemaVersion(t, ctx, db.write); v != len(migrations) {
		t.Fatalf("schema version %d, want %d", v, len(migrations))
	}
	a, err := db.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if a.Canary != nil || a.Version != 4 || a.Status.Serving != 1 {
		t.Fatalf("old app = %+v", a)
	}
	a.Canary = &store.Canary{Release: 2, Weight: 10, StepStartedAt: time.Date(2025, 1, 2, 3, 5, 0, 0, time.UTC)}
	if _, err := db.UpdateApp(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if got.Canary == nil || *got.Canary != *a.Canary {
		t.Fatalf("canary = %+v, want %+v", got.Canary, a.Canary)
	}
}
