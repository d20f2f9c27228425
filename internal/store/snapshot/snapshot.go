// Package snapshot is the table-level view of a store that backup and
// restore work with: every backend lists its tables and streams their rows
// inside one read transaction, and loads rows into a fresh schema. Rows
// travel as plain values, because the backends keep one representation per
// column (integers, text — times as fixed-width RFC 3339, JSON as text —
// and bytes), so a row read from SQLite loads into PostgreSQL unchanged.
package snapshot

import (
	"context"
	"fmt"
)

// Kind is a column's value type. A value is int64, string, []byte or nil
// (NULL), whatever the backend's own type name.
type Kind string

// The kinds a column may have.
const (
	Int  Kind = "int"
	Text Kind = "text"
	Blob Kind = "blob"
)

// Column is one column of a table.
type Column struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
}

// Table is a table with its columns in their stored order.
type Table struct {
	Name    string   `json:"name"`
	Columns []Column `json:"columns"`
}

// ColumnNames lists the table's column names in order.
func (t Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Reader is one consistent snapshot of a store.
type Reader interface {
	// Backend names the store kind ("sqlite", "postgres").
	Backend() string
	// SchemaVersion is the store's migration version.
	SchemaVersion() int
	// Tables lists every table of platform state, parents before the
	// tables whose foreign keys point at them.
	Tables() []Table
	// Rows calls fn with each row of t in primary-key order; vals is
	// reused between calls.
	Rows(ctx context.Context, t Table, fn func(vals []any) error) error
	// Sequences are the counters the store hands out ("events.revision"),
	// by name, at their last value: a counter may be ahead of the largest
	// row (the newest rows were deleted) and must stay so.
	Sequences(ctx context.Context) (map[string]int64, error)
}

// Source is a store a snapshot can be taken of.
type Source interface {
	// Snapshot runs fn inside one read transaction.
	Snapshot(ctx context.Context, fn func(Reader) error) error
}

// Writer loads rows into a fresh schema inside one write transaction.
type Writer interface {
	// Tables lists the tables of the schema being loaded, like
	// Reader.Tables.
	Tables() []Table
	// Insert adds one row; cols name the values' columns.
	Insert(ctx context.Context, table string, cols []string, vals []any) error
	// SetSequence moves a counter named as in Reader.Sequences to v.
	SetSequence(ctx context.Context, name string, v int64) error
}

// CheckValue reports whether v fits a column of kind k.
func CheckValue(k Kind, v any) error {
	switch v.(type) {
	case nil:
		return nil
	case int64:
		if k == Int {
			return nil
		}
	case string:
		if k == Text {
			return nil
		}
	case []byte:
		if k == Blob {
			return nil
		}
	}
	return fmt.Errorf("a %T does not fit a %s column", v, k)
}
