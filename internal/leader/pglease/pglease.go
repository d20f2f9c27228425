// Package pglease keeps leader leases in PostgreSQL: a row per lease with
// its holder, fencing epoch and expiry, the expiry computed and compared
// with the database's clock (now()), never a server's. Fence checks, in a
// write's own transaction, that the lease still has the writer's epoch.
package pglease

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/berthdev/berth/internal/leader"
)

// schema creates the lease table. It lives apart from the store's
// migrations: a lease is not platform state (a backup must not carry it).
const schema = `CREATE TABLE IF NOT EXISTS leader_leases (
	name       text PRIMARY KEY,
	holder     text NOT NULL,
	epoch      bigint NOT NULL,
	expires_at timestamptz NOT NULL,
	acquired_at timestamptz NOT NULL
)`

// schemaLock serialises the CREATE among servers starting together
// (CREATE TABLE IF NOT EXISTS alone can fail on a concurrent create).
const schemaLock = 0x6265727468 // "berth"

// Store is a leader.LeaseStore on a PostgreSQL pool.
type Store struct {
	pool *pgxpool.Pool
}

var _ leader.LeaseStore = (*Store)(nil)

// New creates the lease table if needed.
func New(ctx context.Context, pool *pgxpool.Pool) (*Store, error) {
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(schemaLock)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, schema)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("pglease: create table: %w", err)
	}
	return &Store{pool: pool}, nil
}

func millis(d time.Duration) int64 { return d.Milliseconds() }

// Acquire implements leader.LeaseStore. One statement: the row lock it
// takes orders it against concurrent acquires, renewals and fenced writes
// (which hold the row FOR SHARE until they commit).
func (s *Store) Acquire(ctx context.Context, name, holder string, ttl time.Duration) (int64, bool, error) {
	var epoch int64
	err := s.pool.QueryRow(ctx, `
INSERT INTO leader_leases (name, holder, epoch, expires_at, acquired_at)
VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond', now())
ON CONFLICT (name) DO UPDATE
SET holder = excluded.holder, epoch = leader_leases.epoch + 1,
    expires_at = excluded.expires_at, acquired_at = excluded.acquired_at
WHERE leader_leases.expires_at <= now()
RETURNING epoch`, name, holder, millis(ttl)).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("pglease: acquire %s: %w", name, err)
	}
	return epoch, true, nil
}

// Renew implements leader.LeaseStore.
func (s *Store) Renew(ctx context.Context, name, holder string, epoch int64, ttl time.Duration) (bool, error) {
	tag, err := s.pool.Exec(ctx, `
UPDATE leader_leases SET expires_at = now() + $4 * interval '1 millisecond'
WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()`, name, holder, epoch, millis(ttl))
	if err != nil {
		return false, fmt.Errorf("pglease: renew %s: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Release implements leader.LeaseStore.
func (s *Store) Release(ctx context.Context, name, holder string, epoch int64) error {
	_, err := s.pool.Exec(ctx, `
UPDATE leader_leases SET expires_at = now()
WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()`, name, holder, epoch)
	if err != nil {
		return fmt.Errorf("pglease: release %s: %w", name, err)
	}
	return nil
}

// Holder is who holds a lease, as the database sees it now.
type Holder struct {
	Holder    string
	Epoch     int64
	ExpiresAt time.Time
	Valid     bool
}

// Current reads lease name; pgx.ErrNoRows wrapped if nobody ever held it.
func (s *Store) Current(ctx context.Context, name string) (Holder, error) {
	var h Holder
	err := s.pool.QueryRow(ctx, `SELECT holder, epoch, expires_at, expires_at > now() FROM leader_leases WHERE name = $1`, name).
		Scan(&h.Holder, &h.Epoch, &h.ExpiresAt, &h.Valid)
	if err != nil {
		return Holder{}, fmt.Errorf("pglease: read %s: %w", name, err)
	}
	return h, nil
}

// Querier is the part of a database/sql transaction Fence needs.
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// FenceIdleTimeout is how long a transaction that passed Fence may sit
// idle, waiting for its client, before PostgreSQL ends the client's
// session. The row lock Fence takes would otherwise outlive a client that
// stopped mid-transaction (paused, partitioned): every successor's acquire
// waits on that lock, so the lease could never change hands. Well below
// any sane lease duration, well above the gap between two statements.
const FenceIdleTimeout = 2 * time.Second

// Fence checks, inside tx, that lease name still has epoch and has not
// expired, and locks the row FOR SHARE until tx ends: a successor's
// acquire (an UPDATE of that row) waits for tx to commit, and once it has
// committed, this check fails. So a write made under an old epoch either
// commits before the lease changes hands or not at all. It returns an
// error wrapping leader.ErrFenced otherwise. The same statement bounds
// how long tx may then idle (FenceIdleTimeout), so the lock is released
// even if its holder never comes back.
func Fence(ctx context.Context, tx Querier, name string, epoch int64) error {
	var cur int64
	var valid bool
	var idle string
	err := tx.QueryRowContext(ctx, `
SELECT epoch, expires_at > now(), set_config('idle_in_transaction_session_timeout', $2, true)
FROM leader_leases WHERE name = $1 FOR SHARE`, name, fmt.Sprint(FenceIdleTimeout.Milliseconds())).Scan(&cur, &valid, &idle)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("lease %s is not held: %w", name, leader.ErrFenced)
	}
	if err != nil {
		return fmt.Errorf("pglease: fence %s: %w", name, err)
	}
	if cur != epoch {
		return fmt.Errorf("lease %s is at epoch %d, this write was made at epoch %d: %w", name, cur, epoch, leader.ErrFenced)
	}
	if !valid {
		return fmt.Errorf("lease %s (epoch %d) has expired: %w", name, epoch, leader.ErrFenced)
	}
	return nil
}
