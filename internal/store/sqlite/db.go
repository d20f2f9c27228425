// Package sqlite implements store.Store on an embedded SQLite file
// (modernc.org/sqlite, pure Go).
//
// Connections: one writer connection and a small pool of read-only
// connections. SQLite allows one writer at a time; funnelling every write
// through a single *sql.DB connection serialises writers in Go (a queue on
// the pool) instead of in SQLite's busy handler, which sleeps and retries
// and, for a deferred transaction that reads and then writes, can fail with
// SQLITE_BUSY no matter the timeout. Writes take the lock at BEGIN
// (BEGIN IMMEDIATE), so another process on the same file waits on
// busy_timeout rather than failing half-way. Reads outside InTx use the
// read pool: in WAL mode they see the last commit and never wait for the
// writer, so a long InTx or an fsync does not stall list/get handlers.
//
// The queries themselves are shared with the other backends
// (internal/store/sqlstore); this package holds the connections, the
// schema and SQLite's error codes.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlstore"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is a SQLite-backed store.Store. It is safe for concurrent use.
type DB struct {
	*sqlstore.Store
	write *sql.DB // exactly one connection; every write and every InTx
	read  *sql.DB // query_only connections for reads outside InTx
}

var _ store.Store = (*DB)(nil)

// pragmas are set on every connection through the DSN, because
// database/sql opens connections lazily and a PRAGMA run once on one
// connection would not reach the others. busy_timeout matters only when
// another process holds the file; synchronous=FULL makes every commit
// fsync the WAL, so an acknowledged write survives power loss, not just
// kill -9.
var pragmas = []string{
	"busy_timeout(5000)",
	"journal_mode(WAL)",
	"synchronous(FULL)",
	"foreign_keys(1)",
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" || path == ":memory:" {
		// Each pooled connection to ":memory:" would get its own database.
		return nil, fmt.Errorf("sqlite: path: a file path is required, got %q: %w", path, store.ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: path %q: %w", path, err)
	}

	write, err := openWriter(abs)
	if err != nil {
		return nil, err
	}
	// Migrate before the read pool exists: the first connection switches
	// the file to WAL and creates the tables.
	if err := migrate(ctx, write, migrations); err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: %s: %w", abs, err)
	}
	read, err := openReader(abs)
	if err != nil {
		_ = write.Close()
		return nil, err
	}
	if err := read.PingContext(ctx); err != nil {
		_ = read.Close()
		_ = write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	b := backend{write: write, read: read}
	return &DB{Store: sqlstore.New(b, dialect), write: write, read: read}, nil
}

// openWriter opens the one-connection pool every write goes through.
// BEGIN IMMEDIATE takes the write lock when a transaction starts, so a
// transaction never fails half-way on a lock another process holds.
func openWriter(abs string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{"_txlock": {"immediate"}}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	// Keep the connection for the life of the DB: reopening it would
	// redo the pragmas and drop SQLite's page cache.
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// openReader opens the read pool. query_only turns a write sent to it by
// mistake into an error instead of a second writer.
func openReader(abs string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn(abs, url.Values{"_pragma": {"query_only(1)"}}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// dsn builds a file: URI so that a path holding '?', '#' or '%' is escaped
// rather than taken for the start of the parameters.
func dsn(abs string, extra url.Values) string {
	q := url.Values{"_pragma": append([]string(nil), pragmas...)}
	for k, vs := range extra {
		q[k] = append(q[k], vs...)
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// Close closes the readers first so that the writer is the last connection:
// SQLite checkpoints the WAL into the main file when its last connection
// closes.
func (db *DB) Close() error {
	return errors.Join(db.read.Close(), db.write.Close())
}

// backend gives the shared SQL its connections: every write transaction
// on the single writer, reads on the read pool.
type backend struct {
	write, read *sql.DB
}

// Write runs fn in a write transaction on the single writer connection.
func (b backend) Write(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	sqlTx, err := b.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	committing := false
	defer func() {
		if !committing {
			_ = sqlTx.Rollback()
		}
	}()
	if err := fn(sqlTx); err != nil {
		return err
	}
	// A failed COMMIT leaves nothing behind: the driver rolls back the
	// connection itself, and database/sql marks the Tx done either way.
	committing = true
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}

// Read runs single-statement reads on the read pool; each statement is
// its own consistent snapshot.
func (b backend) Read() sqlstore.Querier { return b.read }
