package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store/sqlstore"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migration is one schema step. Versions follow SQLite's (internal/store/
// sqlite/migrations.go), so a version names the same tables on both
// backends; a released migration is never edited, only followed by a new
// one, written for both.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema history. PostgreSQL starts at SQLite's
// version 11, as one step.
var migrations = []migration{
	{version: 11, name: "schema of SQLite version 11: apps to environments.team", sql: schema},
	{version: 12, name: "environments.routing", sql: `
-- How traffic reaches an environment's apps (see SQLite's migration 12).
ALTER TABLE environments ADD COLUMN routing TEXT COLLATE "C" NOT NULL DEFAULT 'gateway';
ALTER TABLE environments ADD COLUMN gateway_parent TEXT COLLATE "C" NOT NULL DEFAULT '';
`},
	{version: 13, name: "environments.tls_secrets", sql: `
-- The gateway's TLS Secrets and its last seen status (see SQLite's migration 13).
ALTER TABLE environments ADD COLUMN tls_secrets TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN gateway_status TEXT COLLATE "C" NOT NULL DEFAULT '';
`},
	// PostgreSQL only: SQLite keeps blobs in <data-dir>/blobs, beside its
	// one server (its migration 14 does nothing, so versions stay in
	// step). See blobs.go.
	{version: 14, name: "blobs in the database", sql: blobTables},
	{version: 15, name: "sso_pending, login_throttles", sql: `
-- State the API servers share, kept out of backups (see SQLite's
-- migration 15).
CREATE TABLE sso_pending (
	hash       TEXT COLLATE "C" PRIMARY KEY,
	kind       TEXT COLLATE "C" NOT NULL,
	data       TEXT COLLATE "C",
	created_at TEXT COLLATE "C" NOT NULL,
	expires_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX sso_pending_expiry ON sso_pending (expires_at);
CREATE INDEX sso_pending_kind ON sso_pending (kind);
CREATE TABLE login_throttles (
	account      TEXT COLLATE "C" NOT NULL,
	client       TEXT COLLATE "C" NOT NULL,
	failures     TEXT COLLATE "C" NOT NULL,
	locked_until TEXT COLLATE "C" NOT NULL,
	lockouts     BIGINT NOT NULL,
	last_failure TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (account, client)
);
CREATE INDEX login_throttles_idle ON login_throttles (last_failure);
`},
	{version: 16, name: "pipeline_caches", sql: `
-- Caches of pipeline steps on a cluster (see SQLite's migration 16).
CREATE TABLE pipeline_caches (
	app          TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	cache_key    TEXT COLLATE "C" NOT NULL,
	digest       TEXT COLLATE "C" NOT NULL,
	size         BIGINT NOT NULL,
	created_at   TEXT COLLATE "C" NOT NULL,
	last_used_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app, cache_key)
);
CREATE INDEX pipeline_caches_used ON pipeline_caches (last_used_at);
`},
	// Garbage collection (internal/retention) deletes only blobs older
	// than a grace period, aged by the database's clock. Blobs stored
	// before this migration count as stored now: they get a full grace.
	// IF NOT EXISTS: a restore may have made the table in its load
	// transaction (blobTables), which lacks the column.
	{version: 17, name: "blobs.stored_at", sql: `
ALTER TABLE blobs ADD COLUMN IF NOT EXISTS stored_at TIMESTAMPTZ NOT NULL DEFAULT now();
`},
}

// migrateLockKey is the advisory lock that serialises migrations of one
// database (advisory locks are per database): "berthmig" in ASCII.
const migrateLockKey int64 = 0x62657274686d6967

// migrate applies the migrations the database lacks, all in one
// transaction with their schema_migrations rows, under an advisory lock
// taken first: several servers starting together queue on the lock, and
// each after the first finds the schema applied and does nothing. A crash
// leaves the schema as it was (PostgreSQL's DDL is transactional).
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration) error {
	for i, m := range ms {
		if i > 0 && m.version != ms[i-1].version+1 {
			return fmt.Errorf("migrate: migration %d (%s) has version %d, want %d", i, m.name, m.version, ms[i-1].version+1)
		}
	}
	known := ms[len(ms)-1].version
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return fmt.Errorf("migrate: lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    BIGINT PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL,
	applied_at TEXT COLLATE "C" NOT NULL
)`); err != nil {
			return fmt.Errorf("migrate: create schema_migrations: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return fmt.Errorf("migrate: read version: %w", err)
		}
		if current > known {
			// A newer binary migrated this database; running old code on
			// a newer schema could silently drop what it does not know.
			return fmt.Errorf("migrate: schema version %d is newer than this binary knows (%d): %w", current, known, ErrSchemaTooNew)
		}
		for _, m := range ms {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return fmt.Errorf("migrate: %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.version, m.name, sqlstore.FormatTime(time.Now())); err != nil {
				return fmt.Errorf("migrate: record %d (%s): %w", m.version, m.name, err)
			}
		}
		return nil
	})
}
