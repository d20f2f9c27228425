package backup

import (
	"context"
	"io"
	"log/slog"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// Online takes backups of a running server for GET /api/v1/backup: the
// store's snapshot is a read transaction, so writers carry on meanwhile.
type Online struct {
	Source        snapshot.Source
	Blobs         blob.Store
	MasterKeyID   string
	ServerVersion string
	Logger        *slog.Logger
}

// WriteBackup writes one backup to w.
func (o Online) WriteBackup(ctx context.Context, w io.Writer) error {
	_, err := Write(ctx, w, o.Source, Options{Blobs: o.Blobs, MasterKeyID: o.MasterKeyID, ServerVersion: o.ServerVersion, Logger: o.Logger})
	return err
}
