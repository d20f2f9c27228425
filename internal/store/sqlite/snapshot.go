package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// Backend names this store in backups.
const Backend = "sqlite"

// catalog is how the shared snapshot reader reads SQLite: a plain read
// transaction on the read pool, which in WAL mode sees the last commit
// before its first read and nothing after, however long it lasts, and
// never blocks the writer; the catalogue from sqlite_schema and pragmas.
var catalog = &snapshot.Catalog{
	Backend:    Backend,
	Tables:     schemaTables,
	PrimaryKey: primaryKey,
	Sequences:  sequences,
}

// Snapshot runs fn inside one read transaction (see catalog).
func (db *DB) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return catalog.Snapshot(ctx, db.read, fn)
}

// ReadOnly is a database file opened only for a snapshot: no migration
// runs, so an offline backup leaves the file exactly as it found it.
type ReadOnly struct{ read *sql.DB }

// OpenReadOnly opens an existing database file for snapshots.
func OpenReadOnly(ctx context.Context, path string) (*ReadOnly, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	read, err := openReader(path)
	if err != nil {
		return nil, err
	}
	if err := read.PingContext(ctx); err != nil {
		_ = read.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return &ReadOnly{read: read}, nil
}

// Snapshot is DB.Snapshot.
func (r *ReadOnly) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return catalog.Snapshot(ctx, r.read, fn)
}

// Close closes the file.
func (r *ReadOnly) Close() error { return r.read.Close() }

// schemaTables lists the tables of platform state (all but SQLite's own,
// the migration record and snapshot.ServerState) with their columns,
// parents first.
func schemaTables(ctx context.Context, q snapshot.Querier) ([]snapshot.Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: list tables: %w", err)
		}
		if !slices.Contains(snapshot.ServerState, n) {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	var tables []snapshot.Table
	parents := map[string][]string{}
	for _, n := range names {
		t, err := tableColumns(ctx, q, n)
		if err != nil {
			return nil, err
		}
		tables = append(tables, t)
		if parents[n], err = stringsOf(ctx, q, `SELECT "table" FROM pragma_foreign_key_list(?)`, n); err != nil {
			return nil, fmt.Errorf("sqlite: foreign keys of %s: %w", n, err)
		}
	}
	return snapshot.Order(tables, parents)
}

func tableColumns(ctx context.Context, q snapshot.Querier, table string) (snapshot.Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT name, type FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		return snapshot.Table{}, fmt.Errorf("sqlite: columns of %s: %w", table, err)
	}
	defer rows.Close()
	t := snapshot.Table{Name: table}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return snapshot.Table{}, fmt.Errorf("sqlite: columns of %s: %w", table, err)
		}
		var k snapshot.Kind
		switch strings.ToUpper(typ) {
		case "INTEGER":
			k = snapshot.Int
		case "TEXT":
			k = snapshot.Text
		case "BLOB":
			k = snapshot.Blob
		default:
			return snapshot.Table{}, fmt.Errorf("sqlite: column %s.%s has type %q, which backups do not carry", table, name, typ)
		}
		t.Columns = append(t.Columns, snapshot.Column{Name: name, Kind: k})
	}
	if err := rows.Err(); err != nil {
		return snapshot.Table{}, fmt.Errorf("sqlite: columns of %s: %w", table, err)
	}
	return t, nil
}

func primaryKey(ctx context.Context, q snapshot.Querier, table string) ([]string, error) {
	pk, err := stringsOf(ctx, q, `SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return nil, fmt.Errorf("sqlite: primary key of %s: %w", table, err)
	}
	return pk, nil
}

// sequences reads AUTOINCREMENT counters, named table.column.
func sequences(ctx context.Context, q snapshot.Querier, tables []snapshot.Table) (map[string]int64, error) {
	out := map[string]int64{}
	known := map[string]bool{}
	for _, t := range tables {
		known[t.Name] = true
	}
	rows, err := q.QueryContext(ctx, `SELECT name, seq FROM sqlite_sequence ORDER BY name`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return out, nil // no AUTOINCREMENT table yet
		}
		return nil, fmt.Errorf("sqlite: read sequences: %w", err)
	}
	type seq struct {
		table string
		v     int64
	}
	var seqs []seq
	for rows.Next() {
		var s seq
		if err := rows.Scan(&s.table, &s.v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("sqlite: read sequences: %w", err)
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: read sequences: %w", err)
	}
	for _, s := range seqs {
		if !known[s.table] {
			continue
		}
		pk, err := primaryKey(ctx, q, s.table)
		if err != nil {
			return nil, err
		}
		if len(pk) != 1 {
			return nil, fmt.Errorf("sqlite: sequence of %s: want one primary key column, got %d", s.table, len(pk))
		}
		out[s.table+"."+pk[0]] = s.v
	}
	return out, nil
}

func stringsOf(ctx context.Context, q snapshot.Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// quote quotes an identifier, so a column named like a keyword ("user",
// "trigger") reads as a name.

func quote(name string) string { return snapshot.Quote(name) }

func quoteList(names []string) string { return snapshot.QuoteList(names) }
