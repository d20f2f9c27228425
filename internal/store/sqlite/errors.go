package sqlite

import (
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrSchemaTooNew means the file was migrated by a newer Berth.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary")

// mapErr turns a constraint violation into the store's sentinel errors:
// a taken key is ErrExists, a missing parent row (foreign key) is
// ErrNotFound. what names the object and parent the row it refers to, for
// the message.
func mapErr(err error, op, what, parent string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return fmt.Errorf("%s: %w", what, store.ErrExists)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return fmt.Errorf("%s: %s: %w", what, parent, store.ErrNotFound)
		}
	}
	return fmt.Errorf("sqlite: %s %s: %w", op, what, err)
}
