package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store"
)

// blobKeeper is a store that keeps blobs itself: PostgreSQL, which every
// replica shares, so an archive uploaded to one is built by the leader
// whatever machine it runs on.
type blobKeeper interface {
	Blobs() blob.Store
}

// openBlobs returns where source archives live: the database when it
// keeps them, else <dataDir>/blobs (SQLite: one server per data
// directory). A server moving to the database copies the archives its
// folder holds from before, so releases made then can still be built,
// and then renames the folder to blobs.in-database (kept, not deleted):
// nothing writes it any more, so later starts skip it instead of asking
// the database about every file again.
func openBlobs(ctx context.Context, db store.Store, dataDir string, logger *slog.Logger) (blob.Store, error) {
	dir := filepath.Join(dataDir, "blobs")
	k, ok := db.(blobKeeper)
	if !ok {
		s, err := blob.New(dir)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		return s, nil
	}
	s := k.Blobs()
	n, err := copyBlobs(ctx, dir, s, logger)
	if err != nil {
		return nil, fmt.Errorf("server: copy source archives from %s into the database: %w", dir, err)
	}
	if n > 0 {
		logger.Info("copied source archives from the data directory into the database", "count", n, "from", dir)
	}
	if err := os.Rename(dir, dir+".in-database"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("server: set aside %s after copying it into the database: %w", dir, err)
	}
	return s, nil
}

// copyBlobs puts every blob of the folder dir (if there is one) that dst
// lacks into dst; the folder is left as it is. A file that no longer
// matches its digest is left out with a warning: it could not be built
// from anyway.
func copyBlobs(ctx context.Context, dir string, dst blob.Store, logger *slog.Logger) (int, error) {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	src, err := blob.New(dir)
	if err != nil {
		return 0, err
	}
	digests, err := src.Digests()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range digests {
		if ok, err := dst.Has(ctx, d); err != nil {
			return n, err
		} else if ok {
			continue
		}
		err := copyBlob(ctx, src, dst, d)
		if errors.Is(err, blob.ErrDigestMismatch) {
			logger.Warn("source archive in the data directory is damaged; not copied", "digest", d, "err", err)
			continue
		}
		if err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func copyBlob(ctx context.Context, src, dst blob.Store, digest string) error {
	rc, size, err := src.Open(ctx, digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	return dst.Put(ctx, digest, rc, size)
}
