package snapshot

import (
	"database/sql"
	"fmt"
	"strings"
)

// ScanRows calls fn with each row of rows, a SELECT of t's columns in
// order, checking every value against its column's kind. Both backends
// read tables through it.
func ScanRows(rows *sql.Rows, t Table, fn func(vals []any) error) error {
	vals := make([]any, len(t.Columns))
	ptrs := make([]any, len(t.Columns))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", t.Name, err)
		}
		for i, c := range t.Columns {
			if err := CheckValue(c.Kind, vals[i]); err != nil {
				return fmt.Errorf("read %s.%s: %w", t.Name, c.Name, err)
			}
		}
		if err := fn(vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", t.Name, err)
	}
	return nil
}

// SelectAll is the query ScanRows expects: t's columns, in the order of
// orderBy (the primary key) when given. Names are quoted, so a column
// named like a keyword ("user", "trigger") reads as a name.
func SelectAll(t Table, orderBy []string) string {
	q := "SELECT " + QuoteList(t.ColumnNames()) + " FROM " + Quote(t.Name)
	if len(orderBy) > 0 {
		q += " ORDER BY " + QuoteList(orderBy)
	}
	return q
}

// Quote quotes an SQL identifier (the same in SQLite and PostgreSQL).
func Quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// QuoteList quotes names and joins them with commas.
func QuoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = Quote(n)
	}
	return strings.Join(q, ", ")
}
