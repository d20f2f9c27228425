package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// SchemaVersion is the newest schema version this binary knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

// MinSchemaVersion is the oldest schema version this backend can create:
// PostgreSQL started at SQLite's version 11. Restore brings older backups
// up through SQLite's migrations first.
func MinSchemaVersion() int { return migrations[0].version }

// Contents counts the rows of every non-empty table of the database at
// url; a database without Berth's schema holds nothing. Restore uses it to
// refuse a database that is in use.
func Contents(ctx context.Context, url string) (map[string]int64, error) {
	pool, db, err := connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	defer func() { _ = db.Close() }()
	var exists bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		return map[string]int64{}, nil
	}
	return catalog.Contents(ctx, db, SchemaVersion(), ErrSchemaTooNew)
}

// Restore fills the database at url from a backup: the schema up to
// version, the rows load writes in one transaction (holding the write
// lock, so no server writes meanwhile), then the later migrations. A
// failed load leaves no rows; the schema, created in an empty database,
// stays. The caller checks first that the database holds nothing
// (Contents).
func Restore(ctx context.Context, url string, version int, load func(context.Context, snapshot.Writer) error) error {
	if version < MinSchemaVersion() || version > SchemaVersion() {
		return fmt.Errorf("postgres: schema version %d: this binary creates %d to %d: %w", version, MinSchemaVersion(), SchemaVersion(), ErrSchemaTooNew)
	}
	pool, db, err := connect(ctx, url)
	if err != nil {
		return err
	}
	defer pool.Close()
	defer func() { _ = db.Close() }()
	upTo := migrations[:version-MinSchemaVersion()+1]
	if err := migrate(ctx, pool, upTo); err != nil {
		return fmt.Errorf("postgres: restore: %w", err)
	}
	if err := loadTx(ctx, db, load); err != nil {
		return err
	}
	if err := migrate(ctx, pool, migrations); err != nil {
		return fmt.Errorf("postgres: restore: after loading: %w", err)
	}
	return nil
}

func loadTx(ctx context.Context, db *sql.DB, load func(context.Context, snapshot.Writer) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: restore: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, writeLockKey); err != nil {
		return fmt.Errorf("postgres: restore: take the write lock: %w", err)
	}
	// A backup older than migration 14 still carries archives, and they
	// belong in this transaction (see blobTables).
	if _, err := tx.ExecContext(ctx, blobTables); err != nil {
		return fmt.Errorf("postgres: restore: blob tables: %w", err)
	}
	tables, err := schemaTables(ctx, tx)
	if err != nil {
		return err
	}
	lw := &loadWriter{tx: tx, tables: tables, stmts: map[string]*sql.Stmt{}, seqs: map[string]int64{}}
	defer lw.close()
	if err := load(ctx, lw); err != nil {
		return err
	}
	if err := lw.setCounters(ctx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: restore: commit: %w", err)
	}
	return nil
}

type loadWriter struct {
	tx     *sql.Tx
	tables []snapshot.Table
	stmts  map[string]*sql.Stmt
	seqs   map[string]int64
}

func (l *loadWriter) Tables() []snapshot.Table { return l.tables }

func (l *loadWriter) Insert(ctx context.Context, table string, cols []string, vals []any) error {
	key := table + "\x00" + strings.Join(cols, "\x00")
	st, ok := l.stmts[key]
	if !ok {
		marks := make([]string, len(cols))
		for i := range cols {
			marks[i] = "$" + strconv.Itoa(i+1)
		}
		// OVERRIDING SYSTEM VALUE: identity columns keep the backup's
		// numbers.
		var err error
		st, err = l.tx.PrepareContext(ctx, "INSERT INTO "+quote(table)+" ("+quoteList(cols)+") OVERRIDING SYSTEM VALUE VALUES ("+strings.Join(marks, ", ")+")")
		if err != nil {
			return fmt.Errorf("postgres: restore %s: %w", table, err)
		}
		l.stmts[key] = st
	}
	if _, err := st.ExecContext(ctx, vals...); err != nil {
		return fmt.Errorf("postgres: restore %s: %w", table, err)
	}
	return nil
}

// PutBlob stores a source archive of the backup in the load
// transaction: a failed restore leaves none behind.
func (l *loadWriter) PutBlob(ctx context.Context, digest string, r io.Reader, size int64) error {
	return putBlob(ctx, l.tx, digest, r, size)
}

// SetSequence records a counter; setCounters applies them at the end.
func (l *loadWriter) SetSequence(_ context.Context, name string, v int64) error {
	if _, _, ok := strings.Cut(name, "."); !ok {
		return fmt.Errorf("postgres: restore: sequence %q is not table.column", name)
	}
	l.seqs[name] = v
	return nil
}

// setCounters moves every counter to the larger of the backup's value and
// the largest number loaded, so nothing is handed out twice.
func (l *loadWriter) setCounters(ctx context.Context) error {
	counter := func(table, col string) (int64, error) {
		var m int64
		err := l.tx.QueryRowContext(ctx, "SELECT COALESCE(MAX("+quote(col)+"), 0) FROM "+quote(table)).Scan(&m)
		return max(m, l.seqs[table+"."+col]), err
	}
	rev, err := counter("events", "revision")
	if err != nil {
		return fmt.Errorf("postgres: restore: event revision: %w", err)
	}
	if _, err := l.tx.ExecContext(ctx, `UPDATE `+counterTable+` SET revision = $1 WHERE id = 1`, rev); err != nil {
		return fmt.Errorf("postgres: restore: event revision: %w", err)
	}
	ids, err := identityColumns(ctx, l.tx)
	if err != nil {
		return err
	}
	for _, tc := range ids {
		v, err := counter(tc[0], tc[1])
		if err != nil {
			return fmt.Errorf("postgres: restore: sequence of %s.%s: %w", tc[0], tc[1], err)
		}
		if v == 0 {
			continue
		}
		if _, err := l.tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), $3)`, tc[0], tc[1], v); err != nil {
			return fmt.Errorf("postgres: restore: sequence of %s.%s: %w", tc[0], tc[1], err)
		}
	}
	return nil
}

func (l *loadWriter) close() {
	for _, st := range l.stmts {
		_ = st.Close()
	}
}
