package postgres

import "github.com/berthdev/berth/internal/store/sqlstore"

// dialect is what PostgreSQL does its own way in the shared SQL.
var dialect = sqlstore.Dialect{
	Constraint: constraint,
	// The revision comes from the counter row (see event_revision in
	// schema.go), updated in the appending transaction, so revisions
	// commit in order across every server writing to the database. The
	// casts type the parameters, which an INSERT ... SELECT does not.
	AppendEvent: `WITH next AS (UPDATE event_revision SET revision = revision + 1 WHERE id = 1 RETURNING revision)
INSERT INTO events (revision, kind, app, release, time, data)
SELECT next.revision, ?::text, ?::text, ?::bigint, ?::text, ?::text FROM next
RETURNING revision`,
}
