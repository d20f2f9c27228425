package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"

	"github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/backup"
	"github.com/berthdev/berth/internal/blob"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/snapshot"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// databaseFlag names where Config.Database comes from, for errors.
const databaseFlag = "--database (or BERTH_DATABASE)"

// openStore opens the store: the PostgreSQL database at database when it
// is set, else the SQLite file <dataDir>/berth.db.
func openStore(ctx context.Context, dataDir, database string) (store.Store, error) {
	return openFencedStore(ctx, dataDir, database, nil)
}

// openFencedStore is openStore with fence (nil: none) run in every write
// transaction on PostgreSQL (see postgres.OpenFenced).
func openFencedStore(ctx context.Context, dataDir, database string, fence postgres.Fence) (store.Store, error) {
	if database == "" {
		db, err := sqlite.Open(ctx, filepath.Join(dataDir, "berth.db"))
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	if err := CheckDatabase(database); err != nil {
		return nil, err
	}
	u, _ := url.Parse(database) // checked above
	db, err := postgres.OpenFenced(ctx, database, fence)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", databaseFlag, u.Redacted(), err)
	}
	return db, nil
}

// CheckDatabase checks that a --database value is a PostgreSQL URL with a
// host; the error names the flag and hides a password.
func CheckDatabase(database string) error {
	u, err := url.Parse(database)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return fmt.Errorf("%s: want a URL like postgres://user@host:5432/berth, got %q", databaseFlag, redactURL(database))
	}
	return nil
}

// redactURL hides a password in a URL that may not parse.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(not a URL)"
	}
	return u.Redacted()
}

// onlineBackup serves GET /api/v1/backup from db's snapshots; nil (the
// route answers 503) for a store that cannot take one.
func onlineBackup(db store.Store, blobs blob.Store, keyID, version string, logger *slog.Logger) api.BackupWriter {
	src, ok := db.(snapshot.Source)
	if !ok {
		return nil
	}
	return backup.Online{Source: src, Blobs: blobs, MasterKeyID: keyID, ServerVersion: version, Logger: logger}
}
