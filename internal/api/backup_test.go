package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/backup"
	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// GET /api/v1/backup streams a whole, checkable backup to a platform
// admin, records the call in the audit log, and refuses a team's owner
// (the backup holds every team's state).
func TestBackupRoute(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Deps) {
		d.Backup = backup.Online{Source: d.Store.(snapshot.Source), Blobs: d.Blobs}
	})
	team := ts.createTeam(t, "alpha")
	ts.applyIn(t, team.ID, `name: shop
services:
  web:
    command: [./web]
`)
	resp := ts.do(t, http.MethodGet, "/api/v1/backup", nil, map[string]string{"Authorization": "Bearer " + ts.token})
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != BackupContentType {
		t.Fatalf("GET /api/v1/backup = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	file := filepath.Join(t.TempDir(), "b.backup")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	h, tr, err := backup.Verify(context.Background(), file)
	if err != nil {
		t.Fatal(err)
	}
	if h.Backend != "sqlite" || tr.Rows == 0 {
		t.Errorf("backup: %+v %+v", h, tr)
	}

	owner := ts.addUser(t, "owner@example.com", map[string]rbac.Role{team.ID: rbac.RoleOwner})
	tok, _ := ts.personalToken(t, owner.ID, rbac.ScopeAdmin)
	status, body := ts.callAs(t, tok, http.MethodGet, "/api/v1/backup", nil)
	if status != http.StatusForbidden || !strings.Contains(string(body), "platform admin") {
		t.Errorf("a team owner's backup = %d %s; want 403", status, body)
	}

	recs, err := ts.db.ListAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var outcomes []string
	for _, r := range recs {
		if r.Action == "platform.backup" {
			outcomes = append(outcomes, string(r.Outcome))
		}
	}
	if strings.Join(outcomes, ",") != "success,denied" {
		t.Errorf("platform.backup audit outcomes = %v; want success, denied", outcomes)
	}
}
