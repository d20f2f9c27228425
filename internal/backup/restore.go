package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// Target is a store a backup can be restored into.
type Target interface {
	// Backend names the store kind, for messages.
	Backend() string
	// SchemaVersion is the newest schema this binary creates, and
	// MinSchemaVersion the oldest it can create to load an old backup
	// into (older ones go through SQLite's migrations first).
	SchemaVersion() int
	MinSchemaVersion() int
	// Contents counts the rows of every non-empty table.
	Contents(ctx context.Context) (map[string]int64, error)
	// Load creates the schema up to version, runs fn to fill it in one
	// transaction, then migrates to SchemaVersion; when fn or anything
	// after it fails, the store is left as it was.
	Load(ctx context.Context, version int, fn func(context.Context, snapshot.Writer) error) error
}

// RestoreOptions say how to restore.
type RestoreOptions struct {
	// MapCluster rewrites references to cluster old into new (old → new).
	MapCluster map[string]string
	// Keyring opens the backup's sealed data, proving the restored server
	// will read it; KeySource says where its key came from, for messages.
	// nil is only accepted for a backup without sealed data.
	Keyring   *secrets.Keyring
	KeySource string
	// AddClusters are registered by the restore, so MapCluster can map
	// onto them; their credentials are sealed with Keyring.
	AddClusters []NewCluster
	// BlobDir receives the source archives (the server's <data-dir>/blobs)
	// when the target does not keep them itself (see blobKeeper); "" is
	// then only accepted for a backup without any.
	BlobDir string
}

// blobKeeper is a Target that keeps source archives itself, in the
// database every server shares (PostgreSQL): its Load's writer takes
// them (blobWriter).
type blobKeeper interface {
	KeepsBlobs() bool
}

// blobWriter is a snapshot.Writer that stores source archives in its
// load transaction, so a failed restore leaves none behind.
type blobWriter interface {
	PutBlob(ctx context.Context, digest string, r io.Reader, size int64) error
}

func keepsBlobs(t Target) bool {
	k, ok := t.(blobKeeper)
	return ok && k.KeepsBlobs()
}

// Result says what a restore loaded.
type Result struct {
	Header  Header
	Trailer Trailer
	// Tables counts the rows loaded per table.
	Tables map[string]int64
}

// Restore loads the backup open returns into t. It reads the file twice:
// first to check all of it — structure, digests, the master key, the
// cluster mapping — and the target's emptiness, before anything is
// written; then to load it in one transaction. open is called once per
// pass.
func Restore(ctx context.Context, open func() (io.ReadCloser, error), t Target, opts RestoreOptions) (Result, error) {
	ins := newInspector()
	h, tr, err := scanFile(ctx, open, ins)
	if err != nil {
		return Result{}, err
	}
	if h.SchemaVersion > t.SchemaVersion() {
		return Result{}, fmt.Errorf("%w: schema version %d, this berth knows up to %d; restore with the berth that made it or a newer one",
			ErrTooNew, h.SchemaVersion, t.SchemaVersion())
	}
	added, err := prepareClusters(opts.AddClusters, opts.Keyring, ins)
	if err != nil {
		return Result{}, err
	}
	if err := ins.checkClusterMap(opts.MapCluster); err != nil {
		return Result{}, err
	}
	if err := ins.checkKey(opts.Keyring, opts.KeySource); err != nil {
		return Result{}, err
	}
	if tr.Blobs > 0 && opts.BlobDir == "" && !keepsBlobs(t) {
		return Result{}, errors.New("backup: the backup holds source archives and no blob directory was given: restore with --data-dir (the server's data directory)")
	}
	found, err := t.Contents(ctx)
	if err != nil {
		return Result{}, err
	}
	if len(found) > 0 {
		return Result{}, fmt.Errorf("%w: %s holds %s; restore into a new data directory or an empty database", ErrNotEmpty, t.Backend(), describeCounts(found))
	}

	var blobs *blob.Dir
	if tr.Blobs > 0 && !keepsBlobs(t) {
		if blobs, err = blob.New(opts.BlobDir); err != nil {
			return Result{}, err
		}
	}
	ld := &loader{mapCluster: opts.MapCluster, addClusters: added, archives: tr.Blobs > 0, blobs: blobs, rows: true, counts: map[string]int64{}}
	if h.SchemaVersion < t.MinSchemaVersion() {
		err = restoreUpgraded(ctx, open, h.SchemaVersion, t, ld)
	} else {
		err = t.Load(ctx, h.SchemaVersion, func(ctx context.Context, w snapshot.Writer) error {
			ld.start(ctx, w)
			_, _, err := scanFile(ctx, open, ld)
			return err
		})
	}
	if err != nil {
		ld.undoBlobs()
		return Result{}, err
	}
	return Result{Header: h, Trailer: tr, Tables: ld.counts}, nil
}

// restoreUpgraded loads a backup older than t can create: into a
// scratch SQLite file at the backup's version, migrated up there, and then
// from that file into t at t's newest version. Source archives come from
// the backup itself.
func restoreUpgraded(ctx context.Context, open func() (io.ReadCloser, error), version int, t Target, ld *loader) error {
	dir, err := os.MkdirTemp("", "berth-restore-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.RemoveAll(dir)
	scratch := SQLiteTarget{Path: filepath.Join(dir, dbFile)}
	rowsOnly := &loader{mapCluster: ld.mapCluster, addClusters: ld.addClusters, rows: true, counts: ld.counts}
	err = scratch.Load(ctx, version, func(ctx context.Context, w snapshot.Writer) error {
		rowsOnly.start(ctx, w)
		_, _, err := scanFile(ctx, open, rowsOnly)
		return err
	})
	if err != nil {
		return err
	}
	up, err := sqlite.OpenReadOnly(ctx, scratch.Path)
	if err != nil {
		return err
	}
	defer func() { _ = up.Close() }()
	return up.Snapshot(ctx, func(r snapshot.Reader) error {
		if r.SchemaVersion() != t.SchemaVersion() {
			return fmt.Errorf("backup: schema %d after upgrading, and %s is at %d; restore with matching berth versions", r.SchemaVersion(), t.Backend(), t.SchemaVersion())
		}
		return t.Load(ctx, r.SchemaVersion(), func(ctx context.Context, w snapshot.Writer) error {
			if err := copyTables(ctx, r, w); err != nil {
				return err
			}
			blobsOnly := &loader{archives: ld.archives, blobs: ld.blobs}
			blobsOnly.start(ctx, w)
			_, _, err := scanFile(ctx, open, blobsOnly)
			ld.added = blobsOnly.added
			return err
		})
	})
}

// copyTables copies every row and counter of r into w.
func copyTables(ctx context.Context, r snapshot.Reader, w snapshot.Writer) error {
	for _, t := range r.Tables() {
		cols := t.ColumnNames()
		if err := r.Rows(ctx, t, func(vals []any) error { return w.Insert(ctx, t.Name, cols, vals) }); err != nil {
			return err
		}
	}
	seqs, err := r.Sequences(ctx)
	if err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(seqs)) {
		if err := w.SetSequence(ctx, k, seqs[k]); err != nil {
			return err
		}
	}
	return nil
}

func scanFile(ctx context.Context, open func() (io.ReadCloser, error), v visitor) (Header, Trailer, error) {
	rc, err := open()
	if err != nil {
		return Header{}, Trailer{}, fmt.Errorf("backup: %w", err)
	}
	defer rc.Close()
	return scan(ctx, rc, v)
}

func describeCounts(m map[string]int64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%d %s", m[k], k))
	}
	return strings.Join(parts, ", ")
}

// loader is the second pass: rows into the target, archives into the
// blob store.
type loader struct {
	ctx         context.Context
	w           snapshot.Writer
	target      map[string]snapshot.Table
	mapCluster  map[string]string
	addClusters []addedCluster
	// rows: load the tables; archives: store the source archives, with
	// the writer (blobWriter) or else in the folder blobs.
	rows     bool
	archives bool
	blobs    *blob.Dir
	added    []string // archives this restore put in blobs, removed on failure
	counts   map[string]int64
	cols     []string
	refCol   int
}

func (l *loader) start(ctx context.Context, w snapshot.Writer) {
	l.ctx, l.w = ctx, w
	l.target = map[string]snapshot.Table{}
	for _, tb := range w.Tables() {
		l.target[tb.Name] = tb
	}
}

func (l *loader) header(Header) error { return nil }

func (l *loader) table(t snapshot.Table) error {
	if !l.rows {
		return nil
	}
	tt, ok := l.target[t.Name]
	if !ok {
		return fmt.Errorf("backup: table %s is not in this berth's schema at the backup's version", t.Name)
	}
	for _, c := range t.Columns {
		i := columnIndex(tt, c.Name)
		if i < 0 {
			return fmt.Errorf("backup: column %s.%s is not in this berth's schema at the backup's version", t.Name, c.Name)
		}
		if tt.Columns[i].Kind != c.Kind {
			return fmt.Errorf("backup: column %s.%s holds %s here and %s in the backup", t.Name, c.Name, tt.Columns[i].Kind, c.Kind)
		}
	}
	l.cols = t.ColumnNames()
	l.refCol = columnIndex(t, clusterRef[t.Name])
	return nil
}

func (l *loader) row(t snapshot.Table, vals []any) error {
	if !l.rows {
		return nil
	}
	if l.refCol >= 0 {
		if s, ok := vals[l.refCol].(string); ok {
			if to, ok := l.mapCluster[s]; ok {
				vals[l.refCol] = to
			}
		}
	}
	l.counts[t.Name]++
	return l.w.Insert(l.ctx, t.Name, l.cols, vals)
}

// sequences comes after the last table: the added clusters go in first.
func (l *loader) sequences(s map[string]int64) error {
	if !l.rows {
		return nil
	}
	if err := l.insertClusters(l.ctx); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if err := l.w.SetSequence(l.ctx, k, s[k]); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) blob(digest string, size int64, r io.Reader) error {
	if !l.archives {
		return nil
	}
	if bw, ok := l.w.(blobWriter); ok {
		if err := bw.PutBlob(l.ctx, digest, r, size); err != nil {
			return fmt.Errorf("backup: source archive %s: %w", digest, err)
		}
		return nil
	}
	if l.blobs == nil {
		return fmt.Errorf("backup: source archive %s: nowhere to store it", digest)
	}
	if ok, err := l.blobs.Has(l.ctx, digest); err != nil || ok {
		return err
	}
	if err := l.blobs.Put(l.ctx, digest, r, size); err != nil {
		return fmt.Errorf("backup: source archive %s: %w", digest, err)
	}
	l.added = append(l.added, digest)
	return nil
}

// undoBlobs removes the archives a failed restore wrote, so the data
// directory is left as it was.
func (l *loader) undoBlobs() {
	if l.blobs == nil {
		return
	}
	for _, d := range l.added {
		_ = l.blobs.Remove(d)
	}
}
