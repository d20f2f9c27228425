package backup

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// Options describe the platform a backup is taken of.
type Options struct {
	// Blobs holds the source archives releases refer to and the artifact
	// archives of runs; nil leaves them out (a restored platform then
	// cannot rebuild those releases nor serve those artifacts).
	Blobs blob.Store
	// MasterKeyID is recorded in the header (online backups know it).
	MasterKeyID   string
	ServerVersion string
	// Now stamps the header; nil means time.Now.
	Now func() time.Time
	// Logger hears about source archives that are missing from Blobs.
	Logger *slog.Logger
}

// Write writes a backup of src to w: every table read in one snapshot,
// then the blobs it refers to (blobColumn): releases' source archives and
// runs' artifact archives. Secrets and cluster
// credentials are copied as stored, sealed. w is not closed.
func Write(ctx context.Context, w io.Writer, src snapshot.Source, opts Options) (Trailer, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	gz := gzip.NewWriter(w)
	bw := bufio.NewWriterSize(gz, 64<<10)
	enc := &encoder{w: bw, h: sha256.New()}
	var tr Trailer
	err := src.Snapshot(ctx, func(r snapshot.Reader) error {
		var err error
		tr, err = writeSnapshot(ctx, enc, r, opts)
		return err
	})
	if err != nil {
		return Trailer{}, err
	}
	if err := bw.Flush(); err != nil {
		return Trailer{}, fmt.Errorf("backup: write: %w", err)
	}
	if err := gz.Close(); err != nil {
		return Trailer{}, fmt.Errorf("backup: write: %w", err)
	}
	return tr, nil
}

func writeSnapshot(ctx context.Context, enc *encoder, r snapshot.Reader, opts Options) (Trailer, error) {
	h := Header{
		Format: FormatName, FormatVersion: FormatVersion,
		SchemaVersion: r.SchemaVersion(), Backend: r.Backend(),
		CreatedAt: opts.Now().UTC(), MasterKeyID: opts.MasterKeyID, ServerVersion: opts.ServerVersion,
	}
	if err := enc.record(record{Header: &h}); err != nil {
		return Trailer{}, err
	}
	var (
		tr      Trailer
		sources []string
		keyIDs  = map[string]bool{}
	)
	for _, t := range r.Tables() {
		if err := enc.record(record{Table: &t}); err != nil {
			return Trailer{}, err
		}
		ref := blobColumn[t.Name]
		refCol := columnIndex(t, ref.column)
		envCols := sealedColumns(t)
		var n int64
		err := r.Rows(ctx, t, func(vals []any) error {
			n++
			if refCol >= 0 {
				ds, err := ref.digests(vals[refCol])
				if err != nil {
					return err
				}
				sources = append(sources, ds...)
			}
			for _, i := range envCols {
				if id, ok := sealedKeyID(vals[i]); ok {
					keyIDs[id] = true
				}
			}
			return enc.row(t, vals)
		})
		if err != nil {
			return Trailer{}, err
		}
		if err := enc.record(record{End: &tableEnd{Table: t.Name, Rows: n}}); err != nil {
			return Trailer{}, err
		}
		tr.Tables++
		tr.Rows += n
	}
	seqs, err := r.Sequences(ctx)
	if err != nil {
		return Trailer{}, err
	}
	if seqs == nil {
		seqs = map[string]int64{}
	}
	if err := enc.record(record{Sequences: &seqs}); err != nil {
		return Trailer{}, err
	}
	slices.Sort(sources)
	for _, d := range slices.Compact(sources) {
		ok, err := writeBlob(ctx, enc, opts.Blobs, d)
		if err != nil {
			return Trailer{}, err
		}
		if ok {
			tr.Blobs++
		} else {
			tr.MissingBlobs++
			opts.Logger.WarnContext(ctx, "blob missing from the blob store; releases made from it cannot be rebuilt, or its run's artifacts downloaded, after a restore", "digest", d)
		}
	}
	for id := range keyIDs {
		tr.SealedKeyIDs = append(tr.SealedKeyIDs, id)
	}
	slices.Sort(tr.SealedKeyIDs)
	tr.SHA256 = hex.EncodeToString(enc.h.Sum(nil))
	enc.h = nil // the trailer is outside its own digest
	if err := enc.record(record{Trailer: &tr}); err != nil {
		return Trailer{}, err
	}
	return tr, nil
}

// writeBlob copies one blob (a source or artifact archive); false when
// the blob store lacks it.
func writeBlob(ctx context.Context, enc *encoder, blobs blob.Store, digest string) (bool, error) {
	if blobs == nil {
		return false, nil
	}
	rc, size, err := blobs.Open(ctx, digest)
	if errors.Is(err, blob.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("backup: source archive %s: %w", digest, err)
	}
	defer rc.Close()
	if err := enc.record(record{Blob: &blobHeader{Digest: digest, Size: size}}); err != nil {
		return false, err
	}
	n, err := io.Copy(enc, io.LimitReader(rc, size))
	if err != nil {
		return false, fmt.Errorf("backup: source archive %s: %w", digest, err)
	}
	if n != size {
		return false, fmt.Errorf("backup: source archive %s: read %d of %d bytes", digest, n, size)
	}
	// Reading to the end has the store check the content against its
	// digest: a damaged archive fails the backup rather than going in.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return false, fmt.Errorf("backup: source archive %s: %w", digest, err)
	}
	_, err = enc.Write([]byte{'\n'})
	return true, err
}

// encoder writes records and keeps the running digest.
type encoder struct {
	w io.Writer
	h hash.Hash // nil once the trailer is due
}

func (e *encoder) Write(p []byte) (int, error) {
	if e.h != nil {
		e.h.Write(p)
	}
	n, err := e.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("backup: write: %w", err)
	}
	return n, nil
}

func (e *encoder) record(r record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("backup: encode: %w", err)
	}
	_, err = e.Write(append(b, '\n'))
	return err
}

// row writes {"r":[...]}: []byte values go out as base64 strings, which
// is what the column's kind tells the reader to expect.
func (e *encoder) row(t snapshot.Table, vals []any) error {
	for i, v := range vals {
		// JSON would swap bad UTF-8 for U+FFFD without a word.
		if s, ok := v.(string); ok && !utf8.ValidString(s) {
			return fmt.Errorf("backup: %s.%s holds text that is not UTF-8", t.Name, t.Columns[i].Name)
		}
	}
	return e.record(record{Row: vals})
}

// sealedKeyID reads the key ID of a sealed value; kubeconfigs stored in
// clear by an old build have none.
func sealedKeyID(v any) (string, bool) {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return "", false
	}
	id, err := secrets.KeyID(s)
	return id, err == nil
}

func columnIndex(t snapshot.Table, name string) int {
	if name == "" {
		return -1
	}
	for i, c := range t.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}
