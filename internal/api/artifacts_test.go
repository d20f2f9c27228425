package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// A run's artifacts are listed and downloaded by readers of its team,
// byte for byte as stored; another team's reader gets 404, like for a
// missing run.
func TestRunArtifactRoutes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := t.Context()
	mine, other := ts.createTeam(t, "builders"), ts.createTeam(t, "strangers")
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := ts.db.CreateApp(ctx, store.App{Name: "shop", Team: mine.ID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	archive := []byte("pretend this is a tar.gz")
	sum := sha256.Sum256(archive)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	if err := ts.blobs.Put(ctx, digest, bytes.NewReader(archive), 1<<10); err != nil {
		t.Fatal(err)
	}
	kept := &store.StepArtifacts{Digest: digest, Size: int64(len(archive)), Count: 1, Files: []string{"bin/web"}, Bytes: 3}
	gone := &store.StepArtifacts{Digest: "sha256:" + hex.EncodeToString(make([]byte, 32)), Size: 1, Count: 1, Files: []string{"x"}}
	run := store.Run{ID: "shop.1", App: "shop", Team: mine.ID, Number: 1, Trigger: "manual", State: store.RunSucceeded, CreatedAt: now,
		Steps: []store.RunStep{
			{Name: "test", Kind: "run", Status: "success"},
			{Name: "build", Kind: "run", Status: "success", Artifacts: kept},
			{Name: "old", Kind: "run", Status: "success", Artifacts: gone},
			{Name: "expired", Kind: "run", Status: "success", Artifacts: &store.StepArtifacts{Size: 9, Count: 4, Bytes: 20, ExpiredAt: now.Add(time.Hour)}},
		}}
	if err := ts.db.CreateRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	reader, _ := ts.teamToken(t, mine.ID, rbac.RoleViewer, rbac.ScopeRead)
	stranger, _ := ts.teamToken(t, other.ID, rbac.RoleOwner, rbac.ScopeAdmin)

	var list []api.StepArtifacts
	ts.mustAs(t, reader, http.StatusOK, http.MethodGet, "/api/v1/runs/shop.1/artifacts", nil, &list)
	if len(list) != 3 || list[0].Step != "build" || list[0].Digest != digest || list[0].Files[0] != "bin/web" || list[1].Step != "old" {
		t.Fatalf("list = %+v", list)
	}
	// Expired artifacts are listed with when they expired, and no digest.
	if e := list[2]; e.Step != "expired" || e.Digest != "" || !e.ExpiredAt.Equal(now.Add(time.Hour)) || e.Count != 4 || !list[0].ExpiredAt.IsZero() {
		t.Errorf("expired entry = %+v", e)
	}
	var shown api.Run
	ts.mustAs(t, reader, http.StatusOK, http.MethodGet, "/api/v1/runs/shop.1", nil, &shown)
	if a := shown.Steps[1].Artifacts; a == nil || a.Digest != digest {
		t.Errorf("run show step build artifacts = %+v", a)
	}

	resp := ts.do(t, http.MethodGet, "/api/v1/runs/shop.1/artifacts/build", nil, map[string]string{"Authorization": "Bearer " + reader})
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, archive) || resp.Header.Get("Content-Type") != "application/gzip" || resp.Header.Get("X-Berth-Digest") != digest {
		t.Fatalf("download: %d %q %v", resp.StatusCode, body, resp.Header)
	}

	for _, tc := range []struct {
		desc, tok, path string
		want            int
	}{
		{"another team's run", stranger, "/api/v1/runs/shop.1/artifacts", http.StatusNotFound},
		{"another team's download", stranger, "/api/v1/runs/shop.1/artifacts/build", http.StatusNotFound},
		{"a step without artifacts", reader, "/api/v1/runs/shop.1/artifacts/test", http.StatusNotFound},
		{"an unknown step", reader, "/api/v1/runs/shop.1/artifacts/nope", http.StatusNotFound},
		{"an archive no longer stored", reader, "/api/v1/runs/shop.1/artifacts/old", http.StatusNotFound},
		{"a malformed run", reader, "/api/v1/runs/shop/artifacts", http.StatusUnprocessableEntity},
		{"expired artifacts", reader, "/api/v1/runs/shop.1/artifacts/expired", http.StatusGone},
		{"another team's expired artifacts", stranger, "/api/v1/runs/shop.1/artifacts/expired", http.StatusNotFound},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, b := ts.callAs(t, tc.tok, http.MethodGet, tc.path, nil)
			if got != tc.want {
				t.Errorf("status %d, want %d: %s", got, tc.want, b)
			}
			if tc.want == http.StatusGone && (!bytes.Contains(b, []byte(`"gone"`)) || !bytes.Contains(b, []byte("expired on 2030-01-01T01:00:00Z"))) {
				t.Errorf("410 body %s; want code gone and when they expired", b)
			}
		})
	}
}
