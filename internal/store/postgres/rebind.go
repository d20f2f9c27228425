package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/store/sqlstore"
)

// rebind rewrites the shared SQL's '?' placeholders as PostgreSQL's $1,
// $2... A '?' inside a quoted string or identifier, or a comment, stays
// as it is.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			end := strings.IndexByte(query[i+1:], c)
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+2])
			i += end + 1
		case c == '-' && i+1 < len(query) && query[i+1] == '-':
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				b.WriteString(query[i:])
				return b.String()
			}
			b.WriteString(query[i : i+end+1])
			i += end
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// flags passes booleans as 0/1: the schema keeps flags in BIGINT columns,
// as SQLite does, and pgx will not encode a bool into one. (Reading them
// back needs nothing: database/sql scans 0/1 into a *bool.)
func flags(args []any) []any {
	for i, a := range args {
		if b, ok := a.(bool); ok {
			if b {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		}
	}
	return args
}

// rebinder runs the shared SQL on a *sql.DB or *sql.Tx of the pgx driver:
// '?' placeholders become $n, and booleans 0/1.
type rebinder struct {
	q sqlstore.Querier
}

func (r rebinder) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return r.q.ExecContext(ctx, rebind(query), flags(args)...)
}

func (r rebinder) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return r.q.QueryContext(ctx, rebind(query), flags(args)...)
}

func (r rebinder) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return r.q.QueryRowContext(ctx, rebind(query), flags(args)...)
}
