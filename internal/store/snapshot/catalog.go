package snapshot

import (
	"context"
	"database/sql"
	"fmt"
)

// Querier is what a Catalog reads the schema and rows with: the snapshot's
// transaction (or, for a restore, the load transaction).
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Catalog is what an SQL backend tells the one snapshot reader both
// backends share: how to open the read transaction and how to read its
// own catalogue. Everything else — the schema version, rows in
// primary-key order, the checks of every value — is the same SQL on both.
type Catalog struct {
	// Backend names the store in backups and begins its errors.
	Backend string
	// TxOptions open the snapshot's transaction: what makes every read
	// see one moment (nil: the driver's default).
	TxOptions *sql.TxOptions
	// Tables lists the tables of platform state, parents first (Order).
	Tables func(ctx context.Context, q Querier) ([]Table, error)
	// PrimaryKey lists a table's key columns in order.
	PrimaryKey func(ctx context.Context, q Querier, table string) ([]string, error)
	// Sequences reads the counters (Reader.Sequences).
	Sequences func(ctx context.Context, q Querier, tables []Table) (map[string]int64, error)
}

// Snapshot runs fn with a Reader on one read transaction of db, which it
// rolls back afterwards (it wrote nothing).
func (c *Catalog) Snapshot(ctx context.Context, db *sql.DB, fn func(Reader) error) error {
	tx, err := db.BeginTx(ctx, c.TxOptions)
	if err != nil {
		return fmt.Errorf("%s: begin snapshot: %w", c.Backend, err)
	}
	defer func() { _ = tx.Rollback() }() // read-only: nothing to keep
	r := &sqlReader{c: c, q: tx}
	// The first read fixes the snapshot (SQLite's WAL read mark,
	// PostgreSQL's REPEATABLE READ); everything after sees the same state.
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&r.version); err != nil {
		return fmt.Errorf("%s: snapshot: schema version: %w", c.Backend, err)
	}
	if r.tables, err = c.Tables(ctx, tx); err != nil {
		return err
	}
	return fn(r)
}

// Contents counts the rows of every non-empty table of db in one
// snapshot; a restore refuses a store that holds any. A schema newer than
// newest is tooNew.
func (c *Catalog) Contents(ctx context.Context, db *sql.DB, newest int, tooNew error) (map[string]int64, error) {
	out := map[string]int64{}
	err := c.Snapshot(ctx, db, func(r Reader) error {
		if r.SchemaVersion() > newest {
			return fmt.Errorf("%s: schema version %d: %w", c.Backend, r.SchemaVersion(), tooNew)
		}
		q := r.(*sqlReader).q
		for _, t := range r.Tables() {
			var n int64
			if err := q.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+Quote(t.Name)).Scan(&n); err != nil {
				return fmt.Errorf("%s: count %s: %w", c.Backend, t.Name, err)
			}
			if n > 0 {
				out[t.Name] = n
			}
		}
		return nil
	})
	return out, err
}

// sqlReader is the Reader of a Catalog's snapshot.
type sqlReader struct {
	c       *Catalog
	q       Querier
	version int
	tables  []Table
}

func (r *sqlReader) Backend() string    { return r.c.Backend }
func (r *sqlReader) SchemaVersion() int { return r.version }
func (r *sqlReader) Tables() []Table    { return r.tables }
func (r *sqlReader) Sequences(ctx context.Context) (map[string]int64, error) {
	return r.c.Sequences(ctx, r.q, r.tables)
}

func (r *sqlReader) Rows(ctx context.Context, t Table, fn func([]any) error) error {
	pk, err := r.c.PrimaryKey(ctx, r.q, t.Name)
	if err != nil {
		return err
	}
	rows, err := r.q.QueryContext(ctx, SelectAll(t, pk))
	if err != nil {
		return fmt.Errorf("%s: read %s: %w", r.c.Backend, t.Name, err)
	}
	defer rows.Close()
	if err := ScanRows(rows, t, fn); err != nil {
		return fmt.Errorf("%s: %w", r.c.Backend, err)
	}
	return nil
}
