package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// SchemaVersion is the newest schema version this binary knows.
func SchemaVersion() int { return len(migrations) }

// Contents counts the rows of every non-empty table of the database file
// at path; a missing file holds nothing. Restore uses it to refuse a store
// that is in use.
func Contents(ctx context.Context, path string) (map[string]int64, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return map[string]int64{}, nil
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = ro.Close() }()
	out, err := catalog.Contents(ctx, ro.read, SchemaVersion(), ErrSchemaTooNew)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Restore builds the database file at path from a backup: the schema up to
// version (the backup's), the rows load fills in, then the migrations that
// came after version, so an older backup is brought up to date the way the
// file it came from would have been. Everything happens in a new file
// beside path that replaces it only when complete, so a failure leaves
// path as it was. The caller must have checked that path holds nothing
// (Contents), and no server may have it open.
func Restore(ctx context.Context, path string, version int, load func(context.Context, snapshot.Writer) error) (err error) {
	if version < 1 || version > len(migrations) {
		return fmt.Errorf("sqlite: schema version %d: this binary knows 1 to %d: %w", version, len(migrations), ErrSchemaTooNew)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("sqlite: path %q: %w", path, err)
	}
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".restore-*")
	if err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	tmp := f.Name()
	_ = f.Close()
	defer func() {
		if err != nil {
			removeDB(tmp)
		}
	}()
	w, err := openWriter(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if w != nil {
			_ = w.Close()
		}
	}()
	if err := migrate(ctx, w, migrations[:version]); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	if err := loadTx(ctx, w, load); err != nil {
		return err
	}
	if err := migrate(ctx, w, migrations); err != nil {
		return fmt.Errorf("sqlite: restore: after loading: %w", err)
	}
	// Closing the last connection checkpoints the WAL into the file, so
	// the one file is the whole database.
	cerr := w.Close()
	w = nil
	if cerr != nil {
		return fmt.Errorf("sqlite: restore: close: %w", cerr)
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	removeDB(abs) // an empty file checked by the caller, or nothing
	if err := os.Rename(tmp, abs); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	return syncFile(filepath.Dir(abs))
}

func loadTx(ctx context.Context, w *sql.DB, load func(context.Context, snapshot.Writer) error) error {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: restore: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	// Rows arrive parents first, but a table may refer to itself or a
	// later migration may have added a key the order did not see; check
	// the keys once, at commit.
	if _, err := tx.ExecContext(ctx, `PRAGMA defer_foreign_keys = ON`); err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	tables, err := schemaTables(ctx, tx)
	if err != nil {
		return err
	}
	lw := &loadWriter{tx: tx, tables: tables, stmts: map[string]*sql.Stmt{}}
	defer lw.close()
	if err := load(ctx, lw); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: restore: commit: %w", err)
	}
	return nil
}

type loadWriter struct {
	tx     *sql.Tx
	tables []snapshot.Table
	stmts  map[string]*sql.Stmt
}

func (l *loadWriter) Tables() []snapshot.Table { return l.tables }

func (l *loadWriter) Insert(ctx context.Context, table string, cols []string, vals []any) error {
	key := table + "\x00" + strings.Join(cols, "\x00")
	st, ok := l.stmts[key]
	if !ok {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
		var err error
		st, err = l.tx.PrepareContext(ctx, "INSERT INTO "+quote(table)+" ("+quoteList(cols)+") VALUES ("+marks+")")
		if err != nil {
			return fmt.Errorf("sqlite: restore %s: %w", table, err)
		}
		l.stmts[key] = st
	}
	if _, err := st.ExecContext(ctx, vals...); err != nil {
		return fmt.Errorf("sqlite: restore %s: %w", table, err)
	}
	return nil
}

func (l *loadWriter) SetSequence(ctx context.Context, name string, v int64) error {
	table, _, ok := strings.Cut(name, ".")
	if !ok {
		return fmt.Errorf("sqlite: restore: sequence %q is not table.column", name)
	}
	if _, err := l.tx.ExecContext(ctx, `DELETE FROM sqlite_sequence WHERE name = ?`, table); err != nil {
		return fmt.Errorf("sqlite: restore sequence %s: %w", name, err)
	}
	if _, err := l.tx.ExecContext(ctx, `INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)`, table, v); err != nil {
		return fmt.Errorf("sqlite: restore sequence %s: %w", name, err)
	}
	return nil
}

func (l *loadWriter) close() {
	for _, st := range l.stmts {
		_ = st.Close()
	}
}

// removeDB removes a database file with its WAL and shared-memory files.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(p)
	}
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("sqlite: restore: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sqlite: restore: sync %s: %w", path, err)
	}
	return nil
}
