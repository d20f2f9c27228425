package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/blob/blobtest"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// On SQLite archives stay in the data directory; on PostgreSQL they are
// in the database, and a server moving there brings along what its folder
// held (all but a damaged file, which could not be built anyway).
func TestOpenBlobs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	logger := slog.New(slog.DiscardHandler)

	dataDir := t.TempDir()
	folder, err := blob.New(filepath.Join(dataDir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	good, bad := []byte("an archive from before"), []byte("damaged later")
	for _, c := range [][]byte{good, bad} {
		if err := folder.Put(ctx, blobtest.Digest(c), bytes.NewReader(c), 100); err != nil {
			t.Fatal(err)
		}
	}
	badPath := filepath.Join(dataDir, "blobs", "sha256", strings.TrimPrefix(blobtest.Digest(bad), "sha256:"))
	if err := os.WriteFile(badPath, []byte("damaged LATER"), 0o600); err != nil {
		t.Fatal(err)
	}

	lite, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	s, err := openBlobs(ctx, lite, dataDir, logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*blob.Dir); !ok {
		t.Errorf("SQLite's blob store is a %T, want the data directory's folder", s)
	}

	pg, err := postgres.Open(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for range 2 { // a second start copies nothing more
		if s, err = openBlobs(ctx, pg, dataDir, logger); err != nil {
			t.Fatal(err)
		}
	}
	// The folder is set aside, whole, so later starts do not walk it.
	if _, err := os.Stat(filepath.Join(dataDir, "blobs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("blobs folder still in place after the copy: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "blobs.in-database", "sha256", strings.TrimPrefix(blobtest.Digest(good), "sha256:"))); err != nil {
		t.Errorf("the copied folder was not kept as blobs.in-database: %v", err)
	}
	rc, _, err := pg.Blobs().Open(ctx, blobtest.Digest(good))
	if err != nil {
		t.Fatalf("the folder's archive is not in the database: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, good) {
		t.Errorf("read %q, %v; want %q", got, err, good)
	}
	if ok, err := s.Has(ctx, blobtest.Digest(bad)); ok || err != nil {
		t.Errorf("damaged archive copied: %v, %v", ok, err)
	}
}
