package postgres

import (
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlstore"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrSchemaTooNew means the database was migrated by a newer Berth.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary")

// PostgreSQL's error codes (SQLSTATE) that the store tells apart.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
)

// constraint classifies a constraint violation by its SQLSTATE.
func constraint(err error) sqlstore.Constraint {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case codeUniqueViolation:
			return sqlstore.Unique
		case codeForeignKeyViolation:
			return sqlstore.ForeignKey
		}
	}
	return sqlstore.NotConstraint
}

// conflict marks a transaction PostgreSQL aborted because of another one
// (a serialization failure or a deadlock) as store.ErrConflict, keeping
// the original in the chain. Callers already meet ErrConflict from
// version checks, and retry with fresh reads or report a conflict; the
// store does not re-run a transaction itself, because fn may have done
// things outside it.
func conflict(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected) &&
		!errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%w: %w", store.ErrConflict, err)
	}
	return err
}
