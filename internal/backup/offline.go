package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// The files of a data directory backup and restore use; internal/server
// uses the same names.
const (
	dbFile    = "berth.db"
	blobsDir  = "blobs"
	masterKey = "master.key"
)

// WriteOffline writes a backup of a stopped server's store: the SQLite
// file of dataDir with the archives of its folder, or the PostgreSQL
// database at database with the archives it keeps (dataDir, which may be
// "", then only supplies them for a database from before they moved
// there).
func WriteOffline(ctx context.Context, dataDir, database string, w io.Writer) error {
	src, blobs, closeSrc, err := openSource(ctx, dataDir, database)
	if err != nil {
		return err
	}
	defer closeSrc()
	if blobs == nil {
		if blobs, err = folderBlobs(dataDir); err != nil {
			return err
		}
	}
	_, err = Write(ctx, w, src, Options{Blobs: blobs})
	return err
}

// folderBlobs is the data directory's folder of archives; nil when there
// is none.
func folderBlobs(dataDir string) (blob.Store, error) {
	if dataDir == "" {
		return nil, nil
	}
	if _, err := os.Stat(filepath.Join(dataDir, blobsDir)); err != nil {
		return nil, nil // no folder: no archives
	}
	return blob.New(filepath.Join(dataDir, blobsDir))
}

// openSource opens the store to back up, and the blob store that keeps
// its archives when the store itself does (else nil).
func openSource(ctx context.Context, dataDir, database string) (snapshot.Source, blob.Store, func(), error) {
	if database != "" {
		return openPostgresSource(ctx, database)
	}
	if dataDir == "" {
		return nil, nil, nil, errors.New("backup: give --data-dir DIR or --database URL")
	}
	path := filepath.Join(dataDir, dbFile)
	ro, err := sqlite.OpenReadOnly(ctx, path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("backup: %s holds no berth database (%w); is --data-dir right?", dataDir, err)
	}
	return ro, nil, func() { _ = ro.Close() }, nil
}

// Verify reads the whole backup at path, checking it as restore would
// before writing anything.
func Verify(ctx context.Context, path string) (Header, Trailer, error) {
	return scanFile(ctx, OpenFile(path), newInspector())
}

// Describe says in one line what a backup holds.
func Describe(h Header, tr Trailer) string {
	s := fmt.Sprintf("%d rows in %d tables, %d source and artifact archives; schema %d, from %s", tr.Rows, tr.Tables, tr.Blobs, h.SchemaVersion, h.Backend)
	if tr.MissingBlobs > 0 {
		s += fmt.Sprintf(" (%d more missing from the blob store: releases built from them cannot be rebuilt, artifacts not downloaded)", tr.MissingBlobs)
	}
	if len(tr.SealedKeyIDs) > 0 {
		s += fmt.Sprintf("; sealed with master key %v", tr.SealedKeyIDs)
	}
	return s
}

// TargetFor is the store restore writes: the PostgreSQL database when
// database is set, else the SQLite file of dataDir.
func TargetFor(dataDir, database string) (Target, error) {
	if database != "" {
		return postgresTarget(database)
	}
	if dataDir == "" {
		return nil, errors.New("backup: give --data-dir DIR (SQLite) or --database URL (PostgreSQL) to restore into")
	}
	return SQLiteTarget{Path: filepath.Join(dataDir, dbFile)}, nil
}

// BlobDir is where a server with dataDir keeps source archives.
func BlobDir(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	return filepath.Join(dataDir, blobsDir)
}

// LoadKeyring finds the master key the restored server will use, in the
// order the server looks: BERTH_MASTER_KEY, the key file given, the data
// directory's master.key. No key at all is (nil, "", nil): a backup
// without sealed data needs none.
func LoadKeyring(dataDir, keyFile string, lookupEnv func(string) (string, bool)) (*secrets.Keyring, string, error) {
	path := keyFile
	if path == "" && dataDir != "" {
		path = filepath.Join(dataDir, masterKey)
	}
	_, envSet := lookupEnv(secrets.EnvMasterKey)
	if !envSet && keyFile == "" {
		if _, err := os.Stat(path); path == "" || errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil
		}
	}
	k, from, err := secrets.LoadMasterKey(path, lookupEnv)
	if err != nil {
		return nil, "", err
	}
	ring, err := secrets.NewKeyring(k)
	if err != nil {
		return nil, "", err
	}
	return ring, from, nil
}
