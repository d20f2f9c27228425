package sqlite

// identitySchema is migration 4: who may do what, and the record of what
// was done. Secrets of any kind are kept only as sha256 hashes (tokens,
// sessions, invitations) or argon2id PHC strings (passwords).
const identitySchema = `
CREATE TABLE teams (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL
) STRICT;

CREATE TABLE users (
	id             TEXT PRIMARY KEY,
	email          TEXT NOT NULL,
	name           TEXT NOT NULL,
	password_hash  TEXT NOT NULL,
	platform_admin INTEGER NOT NULL,
	oidc_issuer    TEXT NOT NULL,
	oidc_subject   TEXT NOT NULL,
	disabled       INTEGER NOT NULL,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_email ON users (lower(email));
-- One user per SSO identity; users without one have '' and are exempt.
CREATE UNIQUE INDEX users_identity ON users (oidc_issuer, oidc_subject) WHERE oidc_issuer <> '';

CREATE TABLE members (
	team       TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	user       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	role       TEXT NOT NULL,
	source     TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (team, user)
) STRICT;
CREATE INDEX members_user ON members (user, team);

CREATE TABLE invitations (
	id          TEXT PRIMARY KEY,
	hash        TEXT NOT NULL UNIQUE,
	team        TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	role        TEXT NOT NULL,
	email       TEXT NOT NULL,
	created_by  TEXT NOT NULL,
	created_at  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	accepted_at TEXT NOT NULL,
	accepted_by TEXT NOT NULL
) STRICT;

ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN user TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last4 TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used_at TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN revoked_at TEXT NOT NULL DEFAULT '';

CREATE TABLE sessions (
	id         TEXT PRIMARY KEY,
	hash       TEXT NOT NULL UNIQUE,
	csrf_hash  TEXT NOT NULL,
	user       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
) STRICT;

-- The audit log: append-only (the triggers refuse UPDATE and DELETE) and
-- hash-chained (internal/identity/audit). seq is the chain position, so
-- two appends cannot both follow one record.
CREATE TABLE audit (
	seq        INTEGER PRIMARY KEY,
	time       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	team       TEXT NOT NULL,
	action     TEXT NOT NULL,
	object     TEXT NOT NULL,
	source_ip  TEXT NOT NULL,
	request_id TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	details    TEXT NOT NULL,
	redacted   TEXT NOT NULL,
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL
) STRICT;
CREATE INDEX audit_team ON audit (team, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
`
