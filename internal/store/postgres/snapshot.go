package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// Backend names this store in backups.
const Backend = "postgres"

// counterTable is PostgreSQL's own counter of event revisions (SQLite
// keeps it in sqlite_sequence). Backups carry it as the sequence
// "events.revision", not as a table, so both backends list the same
// tables.
const counterTable = "event_revision"

// notPlatformState are tables in the schema that a backup leaves out: the
// migration record, the revision counter (carried as a sequence), the
// leader lease of servers sharing the database (internal/leader/pglease),
// which is the running servers' state: a restored database starts without
// a leader and its first server takes the lease; the source archives
// (blobs.go), which backups carry as archives, like SQLite's folder; and
// the servers' shared state every backend leaves out (snapshot.ServerState).
var notPlatformState = append([]string{"schema_migrations", counterTable, "leader_leases", "blobs", "blob_chunks"}, snapshot.ServerState...)

// catalog is how the shared snapshot reader reads PostgreSQL: one
// REPEATABLE READ, READ ONLY transaction, which sees the database as of
// its first read, whatever commits meanwhile, and takes no lock a writer
// waits for; the catalogue from information_schema and pg_catalog.
var catalog = &snapshot.Catalog{
	Backend:    Backend,
	TxOptions:  &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true},
	Tables:     schemaTables,
	PrimaryKey: primaryKey,
	Sequences:  sequences,
}

// Snapshot runs fn inside one read transaction (see catalog).
func (db *DB) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return catalog.Snapshot(ctx, db.sql, fn)
}

// ReadOnly is a database opened only for snapshots: no migration runs, so
// an offline backup leaves the database as it found it.
type ReadOnly struct {
	pool *pgxpool.Pool
	sql  *sql.DB
}

// OpenReadOnly connects to the database at url for snapshots.
func OpenReadOnly(ctx context.Context, url string) (*ReadOnly, error) {
	pool, sqlDB, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	return &ReadOnly{pool: pool, sql: sqlDB}, nil
}

// Snapshot is DB.Snapshot.
func (r *ReadOnly) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return catalog.Snapshot(ctx, r.sql, fn)
}

// Close closes the connections.
func (r *ReadOnly) Close() error {
	err := r.sql.Close()
	r.pool.Close()
	return err
}

func connect(ctx context.Context, url string) (*pgxpool.Pool, *sql.DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w: %w", store.ErrInvalid, err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	return pool, stdlib.OpenDBFromPool(pool), nil
}

// sequences are the event revision counter and every identity column's
// sequence, at the last value handed out (0: none yet).
func sequences(ctx context.Context, q snapshot.Querier, _ []snapshot.Table) (map[string]int64, error) {
	out := map[string]int64{}
	var rev int64
	if err := q.QueryRowContext(ctx, `SELECT revision FROM `+counterTable+` WHERE id = 1`).Scan(&rev); err != nil {
		return nil, fmt.Errorf("postgres: read the event revision: %w", err)
	}
	if rev > 0 {
		out["events.revision"] = rev
	}
	ids, err := identityColumns(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, tc := range ids {
		var seq string
		if err := q.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, $2)`, tc[0], tc[1]).Scan(&seq); err != nil {
			return nil, fmt.Errorf("postgres: sequence of %s.%s: %w", tc[0], tc[1], err)
		}
		var last int64
		var called bool
		if err := q.QueryRowContext(ctx, `SELECT last_value, is_called FROM `+seq).Scan(&last, &called); err != nil {
			return nil, fmt.Errorf("postgres: read sequence %s: %w", seq, err)
		}
		if called {
			out[tc[0]+"."+tc[1]] = last
		}
	}
	return out, nil
}

// schemaTables lists the tables of platform state, parents first.
func schemaTables(ctx context.Context, q snapshot.Querier) ([]snapshot.Table, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND NOT (table_name = ANY($1))
		ORDER BY table_name, ordinal_position`, notPlatformState)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	var tables []snapshot.Table
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("postgres: list tables: %w", err)
		}
		var k snapshot.Kind
		switch typ {
		case "bigint", "integer", "smallint":
			k = snapshot.Int
		case "text":
			k = snapshot.Text
		case "bytea":
			k = snapshot.Blob
		default:
			rows.Close()
			return nil, fmt.Errorf("postgres: column %s.%s has type %q, which backups do not carry", table, col, typ)
		}
		if len(tables) == 0 || tables[len(tables)-1].Name != table {
			tables = append(tables, snapshot.Table{Name: table})
		}
		t := &tables[len(tables)-1]
		t.Columns = append(t.Columns, snapshot.Column{Name: col, Kind: k})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	parents := map[string][]string{}
	fk, err := q.QueryContext(ctx, `SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
		JOIN pg_namespace n ON n.oid = c.connamespace WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("postgres: foreign keys: %w", err)
	}
	defer fk.Close()
	for fk.Next() {
		var child, parent string
		if err := fk.Scan(&child, &parent); err != nil {
			return nil, fmt.Errorf("postgres: foreign keys: %w", err)
		}
		child, parent = strings.Trim(child, `"`), strings.Trim(parent, `"`)
		parents[child] = append(parents[child], parent)
	}
	if err := fk.Err(); err != nil {
		return nil, fmt.Errorf("postgres: foreign keys: %w", err)
	}
	return snapshot.Order(tables, parents)
}

func primaryKey(ctx context.Context, q snapshot.Querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT a.attname FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary
		ORDER BY array_position(i.indkey, a.attnum)`, quote(table))
	if err != nil {
		return nil, fmt.Errorf("postgres: primary key of %s: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("postgres: primary key of %s: %w", table, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// identityColumns lists (table, column) of every identity column.
func identityColumns(ctx context.Context, q snapshot.Querier) ([][2]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES' ORDER BY table_name, column_name`)
	if err != nil {
		return nil, fmt.Errorf("postgres: identity columns: %w", err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return nil, fmt.Errorf("postgres: identity columns: %w", err)
		}
		out = append(out, [2]string{t, c})
	}
	return out, rows.Err()
}

func quote(name string) string { return snapshot.Quote(name) }

func quoteList(names []string) string { return snapshot.QuoteList(names) }
