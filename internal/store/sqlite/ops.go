package sqlite

import (
	"context"
	"database/sql"

	"github.com/berthdev/berth/internal/store"
)

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// ops implements every aggregate's methods on a querier: inside InTx on
// the transaction, outside it on the read pool (reads) or a one-call
// transaction (writes, see the *DB methods).
type ops struct {
	q querier
}

var _ store.Tx = ops{}
