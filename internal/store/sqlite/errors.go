package sqlite

import (
	"errors"

	"github.com/berthdev/berth/internal/store/sqlstore"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrSchemaTooNew means the file was migrated by a newer Berth.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary")

// dialect is what SQLite does its own way in the shared SQL.
var dialect = sqlstore.Dialect{
	Constraint: constraint,
	// AUTOINCREMENT numbers events; with one writer at a time, insertion
	// order is commit order.
	AppendEvent: `INSERT INTO events (kind, app, release, time, data) VALUES (?, ?, ?, ?, ?) RETURNING revision`,
}

// constraint classifies a constraint violation by SQLite's extended code.
func constraint(err error) sqlstore.Constraint {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return sqlstore.Unique
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return sqlstore.ForeignKey
		}
	}
	return sqlstore.NotConstraint
}
