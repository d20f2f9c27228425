package sqlite

import (
	"errors"

	"github.com/berthdev/berth/internal/store/sqlstore"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrSchemaTooNew means the file was migrated by a newer Berth.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary")

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
