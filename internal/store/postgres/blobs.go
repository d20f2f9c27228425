package postgres

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berthdev/berth/internal/blob"
)

// blobTables hold source archives (see internal/blob), so that every
// server on the database reads what any one of them was sent: an archive
// uploaded to a follower is built by the leader. Content is split into
// chunks of blobChunkSize, so a large archive is neither one huge row nor
// read into memory whole. The tables are not platform state a backup
// lists (notPlatformState): backups carry archives as archives, and
// restore puts them into whichever store the target keeps them in.
//
// IF NOT EXISTS: a restore of a backup older than migration 14 creates
// them in its load transaction (loadTx), before migration 14 runs.
const blobTables = `
CREATE TABLE IF NOT EXISTS blobs (
	digest TEXT COLLATE "C" PRIMARY KEY,
	size   BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_chunks (
	digest TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest) ON DELETE CASCADE,
	seq    BIGINT NOT NULL,
	data   BYTEA NOT NULL,
	PRIMARY KEY (digest, seq)
);
`

// blobChunkSize is the content of one blob_chunks row.
const blobChunkSize = 1 << 20

// blobStore is blob.Store on the database.
type blobStore struct{ db *sql.DB }

var _ blob.Store = blobStore{}

// Blobs is the database's blob store. Its writes do not take the write
// lock every other write holds (see the package comment): an archive is
// written under its digest alone, and a long upload must not hold up
// every other writer.
func (db *DB) Blobs() blob.Store { return blobStore{db: db.sql} }

// Blobs reads the archives of a database opened for snapshots, for
// offline backups: nil for a database from before they were kept there
// (migration 14), which an offline backup leaves unmigrated.
func (r *ReadOnly) Blobs(ctx context.Context) (blob.Store, error) {
	var exists bool
	if err := r.sql.QueryRowContext(ctx, `SELECT to_regclass('blob_chunks') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !exists {
		return nil, nil
	}
	return blobStore{db: r.sql}, nil
}

func (s blobStore) Has(ctx context.Context, digest string) (bool, error) {
	if !blob.ValidDigest(digest) {
		return false, nil
	}
	var ok bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM blobs WHERE digest = $1)`, digest).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	return ok, nil
}

// Put writes the blob in one transaction: it appears whole and verified
// or not at all. Putting a stored blob touches it (see Touch).
func (s blobStore) Put(ctx context.Context, digest string, r io.Reader, max int64) error {
	if err := blob.CheckDigest(digest); err != nil {
		return err
	}
	if ok, err := s.Touch(ctx, digest); err != nil {
		return err
	} else if ok {
		blob.Drain(r, max)
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: blob %s: begin: %w", digest, err)
	}
	defer func() { _ = tx.Rollback() }() // no-op after Commit
	if err := putBlob(ctx, tx, digest, r, max); err != nil {
		return err
	}
	// The row's stored_at defaults to the transaction's start; a long
	// upload would begin its grace period old. putBlob cannot say this
	// (a restore runs it before migration 17 made the column).
	if _, err := tx.ExecContext(ctx, touchBlob, digest); err != nil {
		return fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: blob %s: commit: %w", digest, err)
	}
	return nil
}

// touchBlob restarts a blob's age by the database's clock.
const touchBlob = `UPDATE blobs SET stored_at = clock_timestamp() WHERE digest = $1`

// Touch restarts a stored blob's age. The UPDATE locks the row, so a
// Delete running at the same time either removed it first (no row: false)
// or waits and then finds it young.
func (s blobStore) Touch(ctx context.Context, digest string) (bool, error) {
	if !blob.ValidDigest(digest) {
		return false, nil
	}
	res, err := s.db.ExecContext(ctx, touchBlob, digest)
	return changedRow(digest, res, err)
}

// changedRow turns an Exec's answer into whether it changed a row, with
// errors naming the blob.
func changedRow(digest string, res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	return n > 0, nil
}

// List returns the stored blobs, aged by the database's clock, which all
// servers sharing it agree on.
func (s blobStore) List(ctx context.Context) ([]blob.Info, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT digest, size, EXTRACT(EPOCH FROM (clock_timestamp() - stored_at))::float8 FROM blobs ORDER BY digest`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list blobs: %w", err)
	}
	defer rows.Close()
	var out []blob.Info
	for rows.Next() {
		var (
			i   blob.Info
			age float64
		)
		if err := rows.Scan(&i.Digest, &i.Size, &age); err != nil {
			return nil, fmt.Errorf("postgres: list blobs: %w", err)
		}
		i.Age = time.Duration(age * float64(time.Second))
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list blobs: %w", err)
	}
	return out, nil
}

// Delete removes the blob (its chunks go with it, ON DELETE CASCADE) when
// it is at least minAge old. The age is checked by the DELETE itself: a
// Touch that locked the row first has PostgreSQL check the row's new
// stored_at, which is young.
func (s blobStore) Delete(ctx context.Context, digest string, minAge time.Duration) (bool, error) {
	if err := blob.CheckDigest(digest); err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `DELETE FROM blobs WHERE digest = $1 AND stored_at <= clock_timestamp() - make_interval(secs => $2)`,
		digest, minAge.Seconds())
	return changedRow(digest, res, err)
}

// putBlob writes a blob inside tx; restore calls it in its load
// transaction. The digest's row is claimed first, so a concurrent Put of
// the same content waits for this transaction and then finds the blob
// there (or, if this one rolls back, writes it itself).
func putBlob(ctx context.Context, tx *sql.Tx, digest string, r io.Reader, max int64) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO blobs (digest, size) VALUES ($1, 0) ON CONFLICT (digest) DO NOTHING`, digest)
	if err != nil {
		return fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("postgres: blob %s: %w", digest, err)
	} else if n == 0 {
		blob.Drain(r, max)
		return nil
	}
	h := sha256.New()
	lr := io.LimitReader(r, max+1)
	buf := make([]byte, blobChunkSize)
	var size int64
	for seq := 0; ; seq++ {
		n, rerr := io.ReadFull(lr, buf)
		if n > 0 {
			if size += int64(n); size > max {
				return blob.TooLarge(max)
			}
			h.Write(buf[:n])
			if _, err := tx.ExecContext(ctx, `INSERT INTO blob_chunks (digest, seq, data) VALUES ($1, $2, $3)`, digest, seq, buf[:n]); err != nil {
				return fmt.Errorf("postgres: blob %s: chunk %d: %w", digest, seq, err)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fmt.Errorf("postgres: blob %s: read: %w", digest, rerr)
		}
	}
	if err := blob.Verify(digest, h); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE blobs SET size = $2 WHERE digest = $1`, digest, size); err != nil {
		return fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	return nil
}

func (s blobStore) Open(ctx context.Context, digest string) (io.ReadCloser, int64, error) {
	if !blob.ValidDigest(digest) {
		return nil, 0, blob.ErrNotFound
	}
	var size int64
	err := s.db.QueryRowContext(ctx, `SELECT size FROM blobs WHERE digest = $1`, digest).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, blob.ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("postgres: blob %s: %w", digest, err)
	}
	return blob.Verifying(digest, &chunkReader{ctx: ctx, db: s.db, digest: digest}), size, nil
}

// chunkReader reads a blob one chunk (one query) at a time. Blobs never
// change once written, so the chunks need no common transaction.
type chunkReader struct {
	ctx    context.Context
	db     *sql.DB
	digest string
	seq    int
	buf    []byte
	done   bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.done {
			return 0, io.EOF
		}
		err := c.db.QueryRowContext(c.ctx, `SELECT data FROM blob_chunks WHERE digest = $1 AND seq = $2`, c.digest, c.seq).Scan(&c.buf)
		if errors.Is(err, sql.ErrNoRows) {
			c.done = true
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("postgres: blob %s: chunk %d: %w", c.digest, c.seq, err)
		}
		c.seq++
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) Close() error { return nil }
