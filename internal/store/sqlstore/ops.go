// Package sqlstore is the SQL behind every store.Store backend: one
// implementation of every aggregate's queries, written once in the SQL that
// SQLite and PostgreSQL share, run on database/sql. A backend (sqlite,
// postgres) supplies the connections and transactions (Backend) and the
// little that really differs (Dialect); it also owns its schema, which
// keeps the same tables, columns and column representations on every
// backend: times as fixed-width RFC 3339 TEXT (FormatTime), JSON as TEXT,
// blobs as bytes, booleans as 0/1 integers.
//
// The shared SQL uses '?' placeholders; a backend whose driver wants
// others rewrites them in its Querier.
package sqlstore

import (
	"context"
	"database/sql"

	"github.com/berthdev/berth/internal/store"
)

// Querier is what *sql.DB and *sql.Tx have in common.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Backend gives the shared SQL its connections.
type Backend interface {
	// Write runs fn in one write transaction, committed when fn returns
	// nil and rolled back otherwise (also when fn panics); fn's error is
	// returned as is.
	Write(ctx context.Context, fn func(q Querier) error) error
	// Read is where reads outside a transaction go; each statement sees
	// the last commit.
	Read() Querier
}

// Constraint is the kind of a constraint violation.
type Constraint int

const (
	NotConstraint Constraint = iota // not a constraint violation
	Unique                          // a primary key or unique index
	ForeignKey                      // a row referred to is missing
)

// Dialect is what differs between backends in the shared code.
type Dialect struct {
	// Constraint classifies a driver error.
	Constraint func(err error) Constraint
	// AppendEvent inserts an event and returns its revision. Its
	// arguments are kind, app, release, time, data. The backend decides
	// how revisions are numbered, so that they commit in order.
	AppendEvent string
}

// Store implements store.Store, but for Close, on a Backend. A backend
// embeds it and adds Close.
type Store struct {
	b Backend
	d *Dialect
}

// New returns a Store running the shared SQL on b.
func New(b Backend, d Dialect) *Store { return &Store{b: b, d: &d} }

// InTx runs fn in one write transaction (see Backend.Write).
func (s *Store) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.inWrite(ctx, func(o ops) error { return fn(o) })
}

// inWrite runs fn in a write transaction; calls on *Store that write use
// it, so each runs in its own transaction.
func (s *Store) inWrite(ctx context.Context, fn func(o ops) error) error {
	return s.b.Write(ctx, func(q Querier) error { return fn(ops{q: q, d: s.d}) })
}

// reader runs single-statement reads outside a transaction.
func (s *Store) reader() ops { return ops{q: s.b.Read(), d: s.d} }

// ops implements every aggregate's methods on a Querier: inside InTx on
// the transaction, outside it on the backend's reads (reads) or a one-call
// transaction (writes, see the *Store methods).
type ops struct {
	q Querier
	d *Dialect
}

var _ store.Tx = ops{}
