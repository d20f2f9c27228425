package api

import (
	"context"
	"io"
	"net/http"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/pkg/api"
)

// BackupWriter writes a backup of the whole platform (internal/backup's
// format) to w, from one consistent snapshot of the store.
type BackupWriter interface {
	WriteBackup(ctx context.Context, w io.Writer) error
}

// BackupContentType is the media type of GET /api/v1/backup.
const BackupContentType = "application/vnd.berth.backup+gzip"

// backup streams a backup of every team's state, so only a platform admin
// may take one. Secrets and cluster credentials in it stay sealed with the
// master key. The status is sent before the first byte; a failure after
// that ends the stream early, and a truncated backup fails its own
// digest check, so it can never pass for a whole one.
func (s *server) backup(w http.ResponseWriter, r *http.Request) error {
	denied := forbidden("taking a backup needs a platform admin with the %s permission", rbac.ClustersManage)
	if err := s.platformAdmin(r.Context(), rbac.ClustersManage, denied); err != nil {
		return err
	}
	if s.Backup == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server does not take backups")
	}
	setAuditObject(r.Context(), "platform")
	w.Header().Set("Content-Type", BackupContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="berth.backup"`)
	w.WriteHeader(http.StatusOK)
	if err := s.Backup.WriteBackup(r.Context(), w); err != nil {
		// Too late for an error body: the client sees a stream without
		// its trailer; the log and the audit record say why.
		s.loggerFrom(r.Context()).Error("backup failed mid-stream", "err", err)
		setAuditDetail(r.Context(), "result", "ended early: "+err.Error())
	}
	return nil
}
