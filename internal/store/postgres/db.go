// Package postgres implements store.Store on PostgreSQL, with pgx.
//
// The queries are the ones every backend shares (internal/store/sqlstore),
// run through database/sql on a pgx pool; this package holds the
// connections, the schema, PostgreSQL's error codes and how it numbers
// events.
//
// Writes: every write transaction (InTx, and each write call outside it)
// takes one advisory lock, writeLockKey, first; it is released at commit
// or rollback. Writers to the database, from any number of servers,
// therefore run one at a time, like SQLite's single writer with BEGIN
// IMMEDIATE: the read-then-write code the store and its callers hold
// (the audit chain's next record, a release's or run's next number, a
// secret's next version) means on PostgreSQL what it means on SQLite, and
// transactions run at READ COMMITTED without serialization failures.
// Optimistic concurrency works as on SQLite: an update names the version
// it read and gets store.ErrConflict if another changed it first. Should
// PostgreSQL still abort a transaction for another's sake (serialization
// failure, deadlock), the error is store.ErrConflict too, not retried
// (see conflict). Reads outside a transaction take no lock and never wait
// for a writer.
//
// For high availability (several servers, one leader), the pool (DB.pool)
// is there for LISTEN/NOTIFY and leases, and backend.Write is the one
// place every write transaction goes through, after the write lock: where
// a fencing check belongs.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlstore"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// DB is a PostgreSQL-backed store.Store. It is safe for concurrent use.
type DB struct {
	*sqlstore.Store
	pool *pgxpool.Pool // every connection, shared by sqlDB
	sql  *sql.DB       // database/sql on pool, for the shared SQL
}

var _ store.Store = (*DB)(nil)

// writeLockKey is the advisory lock every write transaction holds:
// "berthwri" in ASCII.
const writeLockKey int64 = 0x6265727468777269

// writeIdleTimeout is how long a write transaction may wait for its own
// client between statements before PostgreSQL ends that client's session
// and so releases the write lock. Without it, one server paused or cut
// off mid-write would hold every other server's writes (and, through the
// lease fence, the failover itself) for as long as its connection lived.
// A write's statements follow each other in microseconds; seconds of
// idleness mean the client is gone.
const writeIdleTimeout = 5 * time.Second

// connectTimeout bounds the first connection, so an unreachable server is
// an error at start rather than a hang.
const connectTimeout = 10 * time.Second

// Open connects to the database at url (postgres://...), checks that it
// answers, and brings its schema up to date.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenFenced(ctx, url, nil)
}

// FenceQuerier is what a Fence may query, inside the write transaction.
type FenceQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Fence is called in every write transaction, after the write lock and
// before the write; an error rolls the transaction back and is returned
// as is. Leader election uses it to reject writes of a server that lost
// its lease (internal/leader/pglease.Fence).
type Fence func(ctx context.Context, tx FenceQuerier) error

// OpenFenced is Open with a fence on every write transaction (nil: none).
func OpenFenced(ctx context.Context, url string, fence Fence) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w: %w", store.ErrInvalid, err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w", where, err)
	}
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", where, err)
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	return &DB{Store: sqlstore.New(backend{db: sqlDB, fence: fence}, dialect), pool: pool, sql: sqlDB}, nil
}

// Close closes every connection.
func (db *DB) Close() error {
	err := db.sql.Close()
	db.pool.Close()
	return err
}

// backend gives the shared SQL its connections.
type backend struct {
	db    *sql.DB
	fence Fence
}

// Write runs fn in a READ COMMITTED transaction holding the write lock
// (see the package comment).
func (b backend) Write(ctx context.Context, fn func(q sqlstore.Querier) error) error {
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", err)
	}
	committing := false
	defer func() {
		if !committing {
			_ = tx.Rollback()
		}
	}()
	// The lock and the idle bound come in one statement: there is no
	// moment when this transaction holds the lock without the bound.
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1), set_config('idle_in_transaction_session_timeout', $2, true)`,
		writeLockKey, fmt.Sprint(writeIdleTimeout.Milliseconds())); err != nil {
		return fmt.Errorf("postgres: take the write lock: %w", err)
	}
	if b.fence != nil {
		if err := b.fence(ctx, tx); err != nil {
			return err
		}
	}
	if err := fn(rebinder{q: tx}); err != nil {
		return conflict(err)
	}
	committing = true
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) {
			return fmt.Errorf("postgres: commit: %w", err)
		}
		return conflict(fmt.Errorf("postgres: commit: %w", err))
	}
	return nil
}

// Read runs single statements on the pool, each in its own snapshot.
func (b backend) Read() sqlstore.Querier { return rebinder{q: b.db} }
