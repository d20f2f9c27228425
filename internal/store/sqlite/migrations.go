package sqlite

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one schema step. Versions are 1, 2, 3... in order; a
// released migration is never edited, only followed by a new one.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations is the schema history. Tables are STRICT so a value of the
// wrong type is an error instead of being stored as-is; JSON columns are
// TEXT; times are TEXT in UTC, fixed-width RFC 3339 with nanoseconds.
var migrations = []migration{
	{version: 1, name: "apps, releases, events, tokens", sql: `
CREATE TABLE apps (
	name           TEXT PRIMARY KEY,
	latest_release INTEGER NOT NULL,
	target_release INTEGER NOT NULL,
	ports          TEXT NOT NULL,
	deleting       INTEGER NOT NULL,
	status         TEXT NOT NULL,
	version        INTEGER NOT NULL,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
) STRICT;

CREATE TABLE releases (
	app         TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number      INTEGER NOT NULL,
	spec        TEXT,
	spec_hash   TEXT NOT NULL,
	source      TEXT NOT NULL,
	artifacts   TEXT NOT NULL,
	cause       TEXT NOT NULL,
	rollback_of INTEGER NOT NULL,
	state       TEXT NOT NULL,
	reason      TEXT NOT NULL,
	message     TEXT NOT NULL,
	version     INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL,
	PRIMARY KEY (app, number)
) STRICT;

-- AUTOINCREMENT: a revision is never handed out twice, even after the
-- newest events are deleted, so a watcher's "since" stays meaningful.
CREATE TABLE events (
	revision INTEGER PRIMARY KEY AUTOINCREMENT,
	kind     TEXT NOT NULL,
	app      TEXT NOT NULL,
	release  INTEGER NOT NULL,
	time     TEXT NOT NULL,
	data     TEXT
) STRICT;

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL
) STRICT;
`},
	{version: 2, name: "apps.canary", sql: `
-- The canary release of an app as JSON (see canaryRow), NULL when none.
ALTER TABLE apps ADD COLUMN canary TEXT;
`},
	{version: 3, name: "apps.team", sql: `
-- The owning team's ID; '' for apps from before teams.
ALTER TABLE apps ADD COLUMN team TEXT NOT NULL DEFAULT '';
CREATE INDEX apps_team ON apps (team, name);
`},
	{version: 4, name: "secrets, config sets, releases.config", sql: `
-- Encrypted secrets: only the envelope, never the value. The envelope is
-- bound to (team, app, name) by its associated data.
CREATE TABLE secrets (
	app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	team       TEXT NOT NULL,
	envelope   TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	version    INTEGER NOT NULL,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (app, name)
) STRICT;

-- Append-only config set versions per app and environment; entries and
-- files are JSON objects.
CREATE TABLE config_versions (
	app         TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	env         TEXT NOT NULL,
	version     INTEGER NOT NULL,
	entries     TEXT NOT NULL,
	files       TEXT NOT NULL,
	author      TEXT NOT NULL,
	comment     TEXT NOT NULL,
	rollback_of INTEGER NOT NULL,
	created_at  TEXT NOT NULL,
	PRIMARY KEY (app, env, version)
) STRICT;

-- The config set and secret versions a release runs with, as JSON; NULL
-- for releases from before config sets.
ALTER TABLE releases ADD COLUMN config TEXT;
`},
	{version: 5, name: "pipeline runs, approvals, webhook deliveries, pipeline state", sql: `
CREATE TABLE runs (
	id               TEXT PRIMARY KEY,
	app              TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	team             TEXT NOT NULL,
	number           INTEGER NOT NULL,
	trigger          TEXT NOT NULL,
	ref              TEXT NOT NULL,
	commit_sha       TEXT NOT NULL,
	before_sha       TEXT NOT NULL,
	params           TEXT NOT NULL,
	detail           TEXT,
	rerun_of         TEXT NOT NULL,
	created_by       TEXT NOT NULL,
	state            TEXT NOT NULL,
	reason           TEXT NOT NULL,
	exit_code        INTEGER NOT NULL,
	cancel_requested INTEGER NOT NULL,
	steps            TEXT NOT NULL,
	version          INTEGER NOT NULL,
	created_at       TEXT NOT NULL,
	started_at       TEXT NOT NULL,
	finished_at      TEXT NOT NULL,
	updated_at       TEXT NOT NULL,
	UNIQUE (app, number)
) STRICT;
-- The run driver's restart scan and the queue read runs by state.
CREATE INDEX runs_state ON runs (state, created_at);

CREATE TABLE approvals (
	run      TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step     TEXT NOT NULL,
	who      TEXT NOT NULL,
	decision TEXT NOT NULL,
	comment  TEXT NOT NULL,
	time     TEXT NOT NULL,
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	UNIQUE (run, step, who)
) STRICT;

CREATE TABLE webhook_deliveries (
	id          TEXT PRIMARY KEY,
	received_at TEXT NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (received_at);

CREATE TABLE pipelines (
	app            TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	team           TEXT NOT NULL,
	definition     TEXT,
	commit_sha     TEXT NOT NULL,
	schedule       TEXT NOT NULL,
	last_scheduled TEXT NOT NULL,
	updated_at     TEXT NOT NULL
) STRICT;
`},
	{version: 6, name: "teams, users, members, invitations, sessions, audit; tokens of users and teams", sql: identitySchema},
	{version: 7, name: "clusters", sql: `
-- Kubernetes clusters. Credentials live in their own table, read only
-- by ClusterCredentials, so no listing or join ever carries them.
CREATE TABLE clusters (
	name       TEXT PRIMARY KEY,
	server     TEXT NOT NULL,
	context    TEXT NOT NULL,
	in_cluster INTEGER NOT NULL,
	created_at TEXT NOT NULL
) STRICT;

CREATE TABLE cluster_credentials (
	cluster    TEXT PRIMARY KEY REFERENCES clusters (name) ON DELETE CASCADE,
	kubeconfig BLOB NOT NULL
) STRICT;
`},
	{version: 8, name: "environments", sql: `
-- An environment is a namespace of a cluster; one environment per
-- namespace, or two would fight over its objects.
CREATE TABLE environments (
	name          TEXT PRIMARY KEY,
	cluster       TEXT NOT NULL,
	namespace     TEXT NOT NULL,
	storage_class TEXT NOT NULL,
	created_at    TEXT NOT NULL,
	UNIQUE (cluster, namespace)
) STRICT;
`},
	{version: 9, name: "apps.env", sql: `
-- The environment an app runs in; '' for the local runtime.
ALTER TABLE apps ADD COLUMN env TEXT NOT NULL DEFAULT '';
`},
	{version: 10, name: "secret_versions", sql: `
-- Every value a secret has had (the current one included), so a release
-- runs with the secret versions it recorded. Removed with the secret.
CREATE TABLE secret_versions (
	app        TEXT NOT NULL,
	name       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	team       TEXT NOT NULL,
	envelope   TEXT NOT NULL,
	key_id     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (app, name, version),
	FOREIGN KEY (app, name) REFERENCES secrets (app, name) ON DELETE CASCADE
) STRICT;
-- Only the current value of each secret is known from before.
INSERT INTO secret_versions (app, name, version, team, envelope, key_id, created_at)
SELECT app, name, version, team, envelope, key_id, updated_at FROM secrets;
`},
	{version: 11, name: "environments.team", sql: `
-- The team that owns an environment. One made before goes to the team of
-- the apps running in it, else the default team, else '' (then only
-- platform admins reach it). Names stay unique across teams.
ALTER TABLE environments ADD COLUMN team TEXT NOT NULL DEFAULT '';
UPDATE environments SET team = COALESCE(
	(SELECT MIN(team) FROM apps WHERE apps.env = environments.name),
	(SELECT id FROM teams WHERE name = 'default'),
	'');
CREATE INDEX environments_team ON environments (team);
`},
	{version: 12, name: "environments.routing", sql: `
-- How traffic reaches an environment's apps: Berth's own gateway in its
-- namespace, or Gateway API HTTPRoutes attached to gateway_parent.
ALTER TABLE environments ADD COLUMN routing TEXT NOT NULL DEFAULT 'gateway';
ALTER TABLE environments ADD COLUMN gateway_parent TEXT NOT NULL DEFAULT '';
`},
	{version: 13, name: "environments.tls_secrets", sql: `
-- The operator's kubernetes.io/tls Secrets (comma-separated names) the
-- environment's gateway serves HTTPS with, and what the routing
-- reconciler last saw of that gateway (JSON; '' until it looked).
ALTER TABLE environments ADD COLUMN tls_secrets TEXT NOT NULL DEFAULT '';
ALTER TABLE environments ADD COLUMN gateway_status TEXT NOT NULL DEFAULT '';
`},
	{version: 14, name: "blobs in the database (PostgreSQL only)", sql: `
-- Nothing to do: PostgreSQL keeps source archives in the database so
-- that every server sharing it reads them (its migration 14); SQLite's
-- one server keeps them in <data-dir>/blobs. The version keeps both
-- schemas numbered alike, so backups move between them.
SELECT 1;
`},
	{version: 15, name: "sso_pending, login_throttles", sql: `
-- State the API servers share (internal/store/serverstate.go), kept out
-- of backups. SSO logins in flight and CLI login codes, keyed by the
-- sha256 of the value the browser or CLI holds, taken once.
CREATE TABLE sso_pending (
	hash       TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	data       TEXT,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;
CREATE INDEX sso_pending_expiry ON sso_pending (expires_at);
CREATE INDEX sso_pending_kind ON sso_pending (kind);
-- Failed password logins per (account, client address).
CREATE TABLE login_throttles (
	account      TEXT NOT NULL,
	client       TEXT NOT NULL,
	failures     TEXT NOT NULL,
	locked_until TEXT NOT NULL,
	lockouts     INTEGER NOT NULL,
	last_failure TEXT NOT NULL,
	PRIMARY KEY (account, client)
) STRICT;
CREATE INDEX login_throttles_idle ON login_throttles (last_failure);
`},
	{version: 16, name: "pipeline_caches", sql: `
-- The caches of pipeline steps that run on a cluster: a tar.gz blob per
-- (app, key), the first save of a key wins. last_used_at moves on each
-- restore; caches unused for --pipeline-cache-ttl are removed.
CREATE TABLE pipeline_caches (
	app          TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	cache_key    TEXT NOT NULL,
	digest       TEXT NOT NULL,
	size         INTEGER NOT NULL,
	created_at   TEXT NOT NULL,
	last_used_at TEXT NOT NULL,
	PRIMARY KEY (app, cache_key)
) STRICT;
CREATE INDEX pipeline_caches_used ON pipeline_caches (last_used_at);
`},
	{version: 17, name: "blobs.stored_at (PostgreSQL only)", sql: `
-- Nothing to do: PostgreSQL's blobs table gets the time a blob was stored,
-- for garbage collection's grace period; SQLite's server keeps blobs in
-- <data-dir>/blobs, aged by their files' modification times. The version
-- keeps both schemas numbered alike.
SELECT 1;
`},
}

// migrate applies the migrations db lacks, each in its own transaction
// together with its schema_migrations row, so a crash leaves the schema
// at a known version. It is idempotent, and safe against another process
// migrating the same file at the same time (the write lock is taken at
// BEGIN, and the version is checked again under it).
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
) STRICT`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	for i, m := range ms {
		if m.version != i+1 {
			return fmt.Errorf("migrate: migration %d (%s) has version %d, want %d", i, m.name, m.version, i+1)
		}
	}
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, len(ms)); err != nil {
			return err
		}
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, known int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit

	var current int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	if current > known {
		// A newer binary migrated this file; running old code on a newer
		// schema could silently drop what it does not know about.
		return fmt.Errorf("migrate: schema version %d is newer than this binary knows (%d): %w", current, known, ErrSchemaTooNew)
	}
	if current >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migrate: %d (%s): %w", m.version, m.name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`,
		m.version, m.name); err != nil {
		return fmt.Errorf("migrate: record %d (%s): %w", m.version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit %d (%s): %w", m.version, m.name, err)
	}
	return nil
}
