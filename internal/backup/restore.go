package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// Target is a store a backup can be restored into.
type Target interface {
	// Backend names the store kind, for messages.
	Backend() string
	// SchemaVersion is the newest schema this binary creates.
	SchemaVersion() int
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
	// BlobDir receives the source archives (the server's <data-dir>/blobs);
	// "" is only accepted for a backup without any.
	BlobDir string
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
	if err := ins.checkClusterMap(opts.MapCluster); err != nil {
		return Result{}, err
	}
	if err := ins.checkKey(opts.Keyring, opts.KeySource); err != nil {
		return Result{}, err
	}
	if tr.Blobs > 0 && opts.BlobDir == "" {
		return Result{}, errors.New("backup: the backup holds source archives and no blob directory was given: restore with --data-dir (the server's data directory)")
	}
	found, err := t.Contents(ctx)
	if err != nil {
		return Result{}, err
	}
	if len(found) > 0 {
		return Result{}, fmt.Errorf("%w: %s holds %s; restore into a new data directory or an empty database", ErrNotEmpty, t.Backend(), describeCounts(found))
	}

	var blobs *blob.Store
	if tr.Blobs > 0 {
		if blobs, err = blob.New(opts.BlobDir); err != nil {
			return Result{}, err
		}
	}
	ld := &loader{mapCluster: opts.MapCluster, blobs: blobs, counts: map[string]int64{}}
	err = t.Load(ctx, h.SchemaVersion, func(ctx context.Context, w snapshot.Writer) error {
		ld.ctx, ld.w = ctx, w
		ld.target = map[string]snapshot.Table{}
		for _, tb := range w.Tables() {
			ld.target[tb.Name] = tb
		}
		_, _, err := scanFile(ctx, open, ld)
		return err
	})
	if err != nil {
		ld.undoBlobs()
		return Result{}, err
	}
	return Result{Header: h, Trailer: tr, Tables: ld.counts}, nil
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
	ctx        context.Context
	w          snapshot.Writer
	target     map[string]snapshot.Table
	mapCluster map[string]string
	blobs      *blob.Store
	added      []string // archives this restore created, removed on failure
	counts     map[string]int64
	cols       []string
	refCol     int
}

func (l *loader) header(Header) error { return nil }

func (l *loader) table(t snapshot.Table) error {
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

func (l *loader) sequences(s map[string]int64) error {
	for _, k := range slices.Sorted(maps.Keys(s)) {
		if err := l.w.SetSequence(l.ctx, k, s[k]); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) blob(digest string, size int64, r io.Reader) error {
	if l.blobs.Has(digest) {
		return nil
	}
	if err := l.blobs.Put(digest, r, size); err != nil {
		return fmt.Errorf("backup: source archive %s: %w", digest, err)
	}
	l.added = append(l.added, digest)
	return nil
}

// undoBlobs removes the archives a failed restore wrote, so the data
// directory is left as it was.
func (l *loader) undoBlobs() {
	for _, d := range l.added {
		_ = l.blobs.Remove(d)
	}
}
