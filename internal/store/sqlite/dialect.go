package sqlite

import "github.com/berthdev/berth/internal/store/sqlstore"

// dialect is what SQLite does its own way in the shared SQL.
var dialect = sqlstore.Dialect{
	Constraint: constraint,
	// AUTOINCREMENT numbers events; with one writer at a time, insertion
	// order is commit order.
	AppendEvent: `INSERT INTO events (kind, app, release, time, data) VALUES (?, ?, ?, ?, ?) RETURNING revision`,
}
