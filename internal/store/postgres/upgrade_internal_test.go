package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
)

// TestUpgradeFromVersion15: a database a server of schema 15 left, with a
// blob in it (no stored_at then), opened by this binary: migration 16
// makes pipeline_caches and 17 gives the blob a stored_at of the upgrade,
// so the blob collector lists it, young, and spares it for a full grace.
func TestUpgradeFromVersion15(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := pgtest.URL(t)
	pool, db, err := connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, pool, migrations[:15-MinSchemaVersion()+1]); err != nil {
		t.Fatal(err)
	}
	const content = "an archive a version 15 server stored"
	sum := sha256.Sum256([]byte(content))
	digest := "sha256:" + hex.EncodeToString(sum[:])
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := putBlob(ctx, tx, digest, strings.NewReader(content), 1<<10); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var cols int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'blobs' AND column_name = 'stored_at'`).Scan(&cols); err != nil || cols != 0 {
		t.Fatalf("schema 15 has blobs.stored_at (%d, %v): the test does not start where it says", cols, err)
	}
	pool.Close()
	_ = db.Close()

	st, err := Open(ctx, url)
	if err != nil {
		t.Fatalf("open the version 15 database: %v", err)
	}
	defer func() { _ = st.Close() }()
	var v int
	if err := st.sql.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&v); err != nil || v != SchemaVersion() {
		t.Fatalf("schema version after the upgrade = %d, %v; want %d", v, err, SchemaVersion())
	}
	blobs := st.Blobs()
	list, err := blobs.List(ctx)
	if err != nil || len(list) != 1 || list[0].Digest != digest || list[0].Size != int64(len(content)) {
		t.Fatalf("List after the upgrade = %+v, %v", list, err)
	}
	if age := list[0].Age; age < 0 || age > time.Minute {
		t.Errorf("the old blob's age = %s; want it counted from the upgrade", age)
	}
	if gone, err := blobs.Delete(ctx, digest, time.Hour); err != nil || gone {
		t.Errorf("Delete with an hour's grace right after the upgrade = %v, %v; want it kept", gone, err)
	}
	rc, _, err := blobs.Open(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	_ = rc.Close()
	if err != nil || string(got) != content {
		t.Errorf("the old blob reads %q, %v", got, err)
	}
	now := time.Now().UTC()
	if err := st.CreateApp(ctx, store.App{Name: "shop", Ports: map[string]int{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if created, err := st.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Key: "deps-1", Digest: digest, Size: 1, CreatedAt: now, LastUsedAt: now}); err != nil || !created {
		t.Errorf("a cache in the upgraded database: %v, %v", created, err)
	}
	if ds, err := st.PipelineCacheDigests(ctx); err != nil || len(ds) != 1 || ds[0] != digest {
		t.Errorf("PipelineCacheDigests = %v, %v", ds, err)
	}
}
