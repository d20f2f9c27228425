package postgres

// schema is the whole of SQLite's schema at its version 11, for a new
// PostgreSQL database: the same tables, columns (in the same order) and
// column representations, so rows move between the backends as they are
// (backup and restore). Times are TEXT in UTC, fixed-width RFC 3339 with
// nanoseconds; JSON is TEXT; flags are 0/1 integers; blobs are BYTEA.
// Every TEXT column sorts by bytes (COLLATE "C"), as in SQLite, so names
// list in the same order and times compare as text whatever the
// database's locale.
//
// Two things are PostgreSQL's own: event revisions come from the counter
// row in event_revision (see dialect.go), and the audit
// log's append-only rule is a trigger function.
const schema = `
CREATE TABLE apps (
	name           TEXT COLLATE "C" PRIMARY KEY,
	latest_release BIGINT NOT NULL,
	target_release BIGINT NOT NULL,
	ports          TEXT COLLATE "C" NOT NULL,
	deleting       BIGINT NOT NULL,
	status         TEXT COLLATE "C" NOT NULL,
	version        BIGINT NOT NULL,
	created_at     TEXT COLLATE "C" NOT NULL,
	updated_at     TEXT COLLATE "C" NOT NULL,
	canary         TEXT COLLATE "C",
	team           TEXT COLLATE "C" NOT NULL DEFAULT '',
	env            TEXT COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX apps_team ON apps (team, name);

CREATE TABLE releases (
	app         TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	number      BIGINT NOT NULL,
	spec        TEXT COLLATE "C",
	spec_hash   TEXT COLLATE "C" NOT NULL,
	source      TEXT COLLATE "C" NOT NULL,
	artifacts   TEXT COLLATE "C" NOT NULL,
	cause       TEXT COLLATE "C" NOT NULL,
	rollback_of BIGINT NOT NULL,
	state       TEXT COLLATE "C" NOT NULL,
	reason      TEXT COLLATE "C" NOT NULL,
	message     TEXT COLLATE "C" NOT NULL,
	version     BIGINT NOT NULL,
	created_at  TEXT COLLATE "C" NOT NULL,
	updated_at  TEXT COLLATE "C" NOT NULL,
	config      TEXT COLLATE "C",
	PRIMARY KEY (app, number)
);

-- Revisions are handed out by event_revision, never twice, even after the
-- newest events are deleted, so a watcher's "since" stays meaningful.
CREATE TABLE events (
	revision BIGINT PRIMARY KEY,
	kind     TEXT COLLATE "C" NOT NULL,
	app      TEXT COLLATE "C" NOT NULL,
	release  BIGINT NOT NULL,
	time     TEXT COLLATE "C" NOT NULL,
	data     TEXT COLLATE "C"
);

-- The last event revision handed out: one row, updated by every append in
-- the appending transaction. Its row lock holds the next appender until
-- this one commits or rolls back, so revisions commit in the order they
-- are numbered, and a watcher reading "revision > since" never passes a
-- revision that commits later.
CREATE TABLE event_revision (
	id       BIGINT PRIMARY KEY CHECK (id = 1),
	revision BIGINT NOT NULL
);
INSERT INTO event_revision (id, revision) VALUES (1, 0);

CREATE TABLE tokens (
	id           TEXT COLLATE "C" PRIMARY KEY,
	name         TEXT COLLATE "C" NOT NULL,
	hash         TEXT COLLATE "C" NOT NULL UNIQUE,
	created_at   TEXT COLLATE "C" NOT NULL,
	kind         TEXT COLLATE "C" NOT NULL DEFAULT '',
	"user"       TEXT COLLATE "C" NOT NULL DEFAULT '',
	team         TEXT COLLATE "C" NOT NULL DEFAULT '',
	role         TEXT COLLATE "C" NOT NULL DEFAULT '',
	scope        TEXT COLLATE "C" NOT NULL DEFAULT '',
	last4        TEXT COLLATE "C" NOT NULL DEFAULT '',
	expires_at   TEXT COLLATE "C" NOT NULL DEFAULT '',
	last_used_at TEXT COLLATE "C" NOT NULL DEFAULT '',
	revoked_at   TEXT COLLATE "C" NOT NULL DEFAULT ''
);

CREATE TABLE secrets (
	app        TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	name       TEXT COLLATE "C" NOT NULL,
	team       TEXT COLLATE "C" NOT NULL,
	envelope   TEXT COLLATE "C" NOT NULL,
	key_id     TEXT COLLATE "C" NOT NULL,
	version    BIGINT NOT NULL,
	created_at TEXT COLLATE "C" NOT NULL,
	updated_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app, name)
);

CREATE TABLE secret_versions (
	app        TEXT COLLATE "C" NOT NULL,
	name       TEXT COLLATE "C" NOT NULL,
	version    BIGINT NOT NULL,
	team       TEXT COLLATE "C" NOT NULL,
	envelope   TEXT COLLATE "C" NOT NULL,
	key_id     TEXT COLLATE "C" NOT NULL,
	created_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app, name, version),
	FOREIGN KEY (app, name) REFERENCES secrets (app, name) ON DELETE CASCADE
);

CREATE TABLE config_versions (
	app         TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	env         TEXT COLLATE "C" NOT NULL,
	version     BIGINT NOT NULL,
	entries     TEXT COLLATE "C" NOT NULL,
	files       TEXT COLLATE "C" NOT NULL,
	author      TEXT COLLATE "C" NOT NULL,
	comment     TEXT COLLATE "C" NOT NULL,
	rollback_of BIGINT NOT NULL,
	created_at  TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app, env, version)
);

CREATE TABLE runs (
	id               TEXT COLLATE "C" PRIMARY KEY,
	app              TEXT COLLATE "C" NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	team             TEXT COLLATE "C" NOT NULL,
	number           BIGINT NOT NULL,
	trigger          TEXT COLLATE "C" NOT NULL,
	ref              TEXT COLLATE "C" NOT NULL,
	commit_sha       TEXT COLLATE "C" NOT NULL,
	before_sha       TEXT COLLATE "C" NOT NULL,
	params           TEXT COLLATE "C" NOT NULL,
	detail           TEXT COLLATE "C",
	rerun_of         TEXT COLLATE "C" NOT NULL,
	created_by       TEXT COLLATE "C" NOT NULL,
	state            TEXT COLLATE "C" NOT NULL,
	reason           TEXT COLLATE "C" NOT NULL,
	exit_code        BIGINT NOT NULL,
	cancel_requested BIGINT NOT NULL,
	steps            TEXT COLLATE "C" NOT NULL,
	version          BIGINT NOT NULL,
	created_at       TEXT COLLATE "C" NOT NULL,
	started_at       TEXT COLLATE "C" NOT NULL,
	finished_at      TEXT COLLATE "C" NOT NULL,
	updated_at       TEXT COLLATE "C" NOT NULL,
	UNIQUE (app, number)
);
CREATE INDEX runs_state ON runs (state, created_at);

CREATE TABLE approvals (
	run      TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
	step     TEXT COLLATE "C" NOT NULL,
	who      TEXT COLLATE "C" NOT NULL,
	decision TEXT COLLATE "C" NOT NULL,
	comment  TEXT COLLATE "C" NOT NULL,
	time     TEXT COLLATE "C" NOT NULL,
	seq      BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	UNIQUE (run, step, who)
);

CREATE TABLE webhook_deliveries (
	id          TEXT COLLATE "C" PRIMARY KEY,
	received_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX webhook_deliveries_time ON webhook_deliveries (received_at);

CREATE TABLE pipelines (
	app            TEXT COLLATE "C" PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	team           TEXT COLLATE "C" NOT NULL,
	definition     TEXT COLLATE "C",
	commit_sha     TEXT COLLATE "C" NOT NULL,
	schedule       TEXT COLLATE "C" NOT NULL,
	last_scheduled TEXT COLLATE "C" NOT NULL,
	updated_at     TEXT COLLATE "C" NOT NULL
);

CREATE TABLE teams (
	id         TEXT COLLATE "C" PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL UNIQUE,
	created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE users (
	id             TEXT COLLATE "C" PRIMARY KEY,
	email          TEXT COLLATE "C" NOT NULL,
	name           TEXT COLLATE "C" NOT NULL,
	password_hash  TEXT COLLATE "C" NOT NULL,
	platform_admin BIGINT NOT NULL,
	oidc_issuer    TEXT COLLATE "C" NOT NULL,
	oidc_subject   TEXT COLLATE "C" NOT NULL,
	disabled       BIGINT NOT NULL,
	created_at     TEXT COLLATE "C" NOT NULL,
	updated_at     TEXT COLLATE "C" NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE UNIQUE INDEX users_identity ON users (oidc_issuer, oidc_subject) WHERE oidc_issuer <> '';

CREATE TABLE members (
	team       TEXT COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	"user"     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT COLLATE "C" NOT NULL,
	source     TEXT COLLATE "C" NOT NULL,
	created_at TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (team, "user")
);
CREATE INDEX members_user ON members ("user", team);

CREATE TABLE invitations (
	id          TEXT COLLATE "C" PRIMARY KEY,
	hash        TEXT COLLATE "C" NOT NULL UNIQUE,
	team        TEXT COLLATE "C" NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	role        TEXT COLLATE "C" NOT NULL,
	email       TEXT COLLATE "C" NOT NULL,
	created_by  TEXT COLLATE "C" NOT NULL,
	created_at  TEXT COLLATE "C" NOT NULL,
	expires_at  TEXT COLLATE "C" NOT NULL,
	accepted_at TEXT COLLATE "C" NOT NULL,
	accepted_by TEXT COLLATE "C" NOT NULL
);

CREATE TABLE sessions (
	id         TEXT COLLATE "C" PRIMARY KEY,
	hash       TEXT COLLATE "C" NOT NULL UNIQUE,
	csrf_hash  TEXT COLLATE "C" NOT NULL,
	"user"     TEXT COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at TEXT COLLATE "C" NOT NULL,
	expires_at TEXT COLLATE "C" NOT NULL
);

-- The audit log: append-only and hash-chained (internal/identity/audit).
-- seq is the chain position, so two appends cannot both follow one record.
CREATE TABLE audit (
	seq        BIGINT PRIMARY KEY,
	time       TEXT COLLATE "C" NOT NULL,
	actor      TEXT COLLATE "C" NOT NULL,
	team       TEXT COLLATE "C" NOT NULL,
	action     TEXT COLLATE "C" NOT NULL,
	object     TEXT COLLATE "C" NOT NULL,
	source_ip  TEXT COLLATE "C" NOT NULL,
	request_id TEXT COLLATE "C" NOT NULL,
	outcome    TEXT COLLATE "C" NOT NULL,
	details    TEXT COLLATE "C" NOT NULL,
	redacted   TEXT COLLATE "C" NOT NULL,
	prev_hash  TEXT COLLATE "C" NOT NULL,
	hash       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX audit_team ON audit (team, seq);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit records are append-only';
END
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TABLE clusters (
	name       TEXT COLLATE "C" PRIMARY KEY,
	server     TEXT COLLATE "C" NOT NULL,
	context    TEXT COLLATE "C" NOT NULL,
	in_cluster BIGINT NOT NULL,
	created_at TEXT COLLATE "C" NOT NULL
);

CREATE TABLE cluster_credentials (
	cluster    TEXT COLLATE "C" PRIMARY KEY REFERENCES clusters (name) ON DELETE CASCADE,
	kubeconfig BYTEA NOT NULL
);

CREATE TABLE environments (
	name          TEXT COLLATE "C" PRIMARY KEY,
	cluster       TEXT COLLATE "C" NOT NULL,
	namespace     TEXT COLLATE "C" NOT NULL,
	storage_class TEXT COLLATE "C" NOT NULL,
	created_at    TEXT COLLATE "C" NOT NULL,
	team          TEXT COLLATE "C" NOT NULL DEFAULT '',
	UNIQUE (cluster, namespace)
);
CREATE INDEX environments_team ON environments (team);
`
