package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	idtoken "github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

func TestEnsureAdminToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dataDir := filepath.Join(dir, "data") // created on demand
	created, err := EnsureAdminToken(ctx, db, dataDir, time.Now(), nil)
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("token file mode %v, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(raw))
	if kind, err := idtoken.Parse(token); err != nil || kind != idtoken.KindPersonal {
		t.Errorf("token %q is not a personal token: %v", token, err)
	}
	tokens, err := db.ListTokens(ctx)
	if err != nil || len(tokens) != 1 {
		t.Fatalf("tokens %+v, %v", tokens, err)
	}
	if tokens[0].Hash != HashToken(token) || strings.Contains(tokens[0].Hash, token) || tokens[0].Hash == token {
		t.Errorf("stored %+v; want only the hash of the token", tokens[0])
	}
	if _, err := db.GetTokenByHash(ctx, HashToken(token)); err != nil {
		t.Errorf("lookup by hash: %v", err)
	}
	entries, _ := os.ReadDir(dataDir)
	if len(entries) != 1 {
		t.Errorf("data dir holds %d entries, want only the token file (no temp files)", len(entries))
	}

	// A second start keeps the token and the file.
	created, err = EnsureAdminToken(ctx, db, dataDir, time.Now(), nil)
	if err != nil || created {
		t.Fatalf("second start: created %v, %v", created, err)
	}
	again, _ := os.ReadFile(path)
	if string(again) != string(raw) {
		t.Error("second start changed the token file")
	}
}

func TestBearerToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, header, token string
		ok                  bool
	}{
		{desc: "bearer", header: "Bearer abc", token: "abc", ok: true},
		{desc: "any case", header: "bearer abc", token: "abc", ok: true},
		{desc: "extra spaces", header: "  Bearer   abc ", token: "abc", ok: true},
		{desc: "empty", header: ""},
		{desc: "no token", header: "Bearer "},
		{desc: "basic", header: "Basic abc"},
		{desc: "bare token", header: "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			token, ok := bearerToken(tc.header)
			if token != tc.token || ok != tc.ok {
				t.Fatalf("bearerToken(%q) = %q, %v", tc.header, token, ok)
			}
		})
	}
}

// An old data directory: an app without a team and an admin token of the
// old shape. The bootstrap moves the app into the default team and leaves
// the token working as the platform admin.
func TestBootstrapUpgradesOldDataDir(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := t.Context()
	now := time.Now().UTC()
	if err := ts.db.CreateApp(ctx, store.App{Name: "legacy", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	old := "berth_" + strings.Repeat("a", 52)
	if err := ts.db.CreateToken(ctx, store.Token{ID: "tok_old", Name: "admin", Hash: HashToken(old), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureAdminToken(ctx, ts.db, ts.dir, now, nil); err != nil {
		t.Fatal(err)
	}
	a, err := ts.db.GetApp(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	def, err := ts.db.GetTeamByName(ctx, DefaultTeam)
	if err != nil || a.Team != def.ID {
		t.Fatalf("app team %q, default team %+v %v", a.Team, def, err)
	}
	var who api.Whoami
	ts.mustAs(t, old, http.StatusOK, http.MethodGet, "/api/v1/whoami", nil, &who)
	if !who.PlatformAdmin || who.Token != "tok_old" {
		t.Fatalf("old admin token acts as %+v", who)
	}
	var apps []api.App
	ts.mustAs(t, old, http.StatusOK, http.MethodGet, "/api/v1/apps", nil, &apps)
	if len(apps) != 1 || apps[0].Team != DefaultTeam {
		t.Fatalf("apps %+v", apps)
	}
}
