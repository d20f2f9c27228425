package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "berth.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func pragma(t *testing.T, c *sql.Conn, name string) string {
	t.Helper()
	var v string
	if err := c.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestPragmas checks the settings reach every connection of both pools,
// not just the first one opened.
func TestPragmas(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := t.Context()
	for _, tc := range []struct {
		desc      string
		pool      *sql.DB
		conns     int
		queryOnly string
	}{
		{desc: "writer", pool: db.write, conns: 1, queryOnly: "0"},
		{desc: "readers", pool: db.read, conns: 3, queryOnly: "1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			// Hold several connections at once so the pool must open
			// new ones.
			var conns []*sql.Conn
			for range tc.conns {
				c, err := tc.pool.Conn(ctx)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
			}
			for i, c := range conns {
				for name, want := range map[string]string{
					"journal_mode": "wal",
					"synchronous":  "2", // FULL
					"foreign_keys": "1",
					"busy_timeout": "5000",
					"query_only":   tc.queryOnly,
				} {
					if got := pragma(t, c, name); got != want {
						t.Errorf("conn %d: %s = %s, want %s", i, name, got, want)
					}
				}
			}
		})
	}
}

func TestReadPoolRefusesWrites(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	_, err := db.read.ExecContext(t.Context(), `INSERT INTO tokens (id, name, hash, created_at) VALUES ('a', 'a', 'h', 'x')`)
	if err == nil {
		t.Fatal("a write on the read pool succeeded")
	}
}

func TestReopenKeepsDataAndSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := openTest(t)
	if err := db.CreateApp(ctx, store.App{Name: "shop", TargetRelease: 3}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		a, err := db.GetApp(ctx, "shop")
		if err != nil || a.TargetRelease != 3 {
			t.Errorf("after reopen: %+v, %v", a, err)
		}
		var n, maxV int
		if err := db.read.QueryRowContext(ctx, `SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &maxV); err != nil {
			t.Fatal(err)
		}
		if n != len(migrations) || maxV != len(migrations) {
			t.Errorf("schema_migrations: %d rows, max %d; want %d", n, maxV, len(migrations))
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	w, err := openWriter(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	good := migration{version: 1, name: "one", sql: `CREATE TABLE one (a INTEGER) STRICT`}
	bad := migration{version: 2, name: "two", sql: `CREATE TABLE two (a INTEGER) STRICT; INSERT INTO nowhere VALUES (1);`}
	if err := migrate(ctx, w, []migration{good, bad}); err == nil {
		t.Fatal("migrate with a failing migration succeeded")
	}
	if v := schemaVersion(t, ctx, w); v != 1 {
		t.Errorf("version after a failed migration = %d, want 1", v)
	}
	if tableExists(t, ctx, w, "two") {
		t.Error("table two exists: the failed migration was half applied")
	}
	fixed := migration{version: 2, name: "two", sql: `CREATE TABLE two (a INTEGER) STRICT`}
	for range 2 { // the second run must be a no-op
		if err := migrate(ctx, w, []migration{good, fixed}); err != nil {
			t.Fatal(err)
		}
	}
	if v := schemaVersion(t, ctx, w); v != 2 || !tableExists(t, ctx, w, "two") {
		t.Errorf("after the fixed migration: version %d, table two %v", v, tableExists(t, ctx, w, "two"))
	}
}

func TestMigrateRefusesMisnumbered(t *testing.T) {
	t.Parallel()
	w, err := openWriter(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ms := []migration{{version: 1, sql: `SELECT 1`}, {version: 3, sql: `SELECT 1`}}
	if err := migrate(t.Context(), w, ms); err == nil {
		t.Fatal("migrate accepted versions 1, 3")
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := openTest(t)
	if _, err := db.write.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (999, 'future', 'x')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, path)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
}

func TestOpenPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		desc    string
		path    string
		wantErr error // nil: must open; errAny: any error
	}{
		{desc: "empty", path: "", wantErr: store.ErrInvalid},
		{desc: "memory", path: ":memory:", wantErr: store.ErrInvalid},
		{desc: "missing directory", path: filepath.Join(dir, "no", "such", "dir", "b.db"), wantErr: errAny},
		{desc: "URI characters in the name", path: filepath.Join(dir, "a?b#c%20 d.db")},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			db, err := Open(t.Context(), tc.path)
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Open: %v", err)
			case tc.wantErr == nil:
				defer db.Close()
				if _, err := os.Stat(tc.path); err != nil {
					t.Errorf("database not at the given path: %v", err)
				}
			case err == nil:
				db.Close()
				t.Fatal("Open succeeded")
			case tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("Open = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

func schemaVersion(t *testing.T, ctx context.Context, db *sql.DB) int {
	t.Helper()
	var v int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func tableExists(t *testing.T, ctx context.Context, db *sql.DB, name string) bool {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// TestTwoHandlesOnOneFile stands for two processes on one file: their
// read-then-write transactions must wait for each other (BEGIN IMMEDIATE
// and busy_timeout) rather than fail with SQLITE_BUSY.
func TestTwoHandlesOnOneFile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db1, path := openTest(t)
	db2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db1.CreateApp(ctx, store.App{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	const each = 10
	errs := make(chan error, 2)
	for _, db := range []*DB{db1, db2} {
		go func() {
			for range each {
				err := db.InTx(ctx, func(tx store.Tx) error {
					a, err := tx.GetApp(ctx, "shop")
					if err != nil {
						return err
					}
					a.LatestRelease++
					_, err = tx.UpdateApp(ctx, a)
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	a, err := db1.GetApp(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	if a.LatestRelease != 2*each {
		t.Errorf("LatestRelease = %d, want %d", a.LatestRelease, 2*each)
	}
}
