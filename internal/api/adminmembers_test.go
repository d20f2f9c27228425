package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// countingStore is a real store that counts the reads of a user's
// memberships and of every team.
type countingStore struct {
	store.Store
	memberships, allTeams atomic.Int64
}

func (c *countingStore) ListTeams(ctx context.Context) ([]store.Team, error) {
	c.allTeams.Add(1)
	return c.Store.ListTeams(ctx)
}

func (c *countingStore) ListMemberships(ctx context.Context, user string) ([]store.Member, error) {
	c.memberships.Add(1)
	return c.Store.ListMemberships(ctx, user)
}

// TestAdminMembershipsReadOnlyToShow: a platform admin user's requests
// do not read its memberships (it holds every permission in every team
// anyway, and may be an owner of thousands), yet whoami still names its
// teams with its roles there, on both backends. Its lists of
// environments and tokens, which name teams it is not a member of, read
// only the names of the teams they show and show the same as before:
// every team's, and environments of no team, never those of a team that
// does not exist.
func TestAdminMembershipsReadOnlyToShow(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := &countingStore{Store: b.open(t)}
			now := time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC)
			srv, admin := serveWithAdmin(t, st, now)
			u, err := st.GetUserByEmail(ctx, AdminEmail)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{}
			for i, role := range []rbac.Role{rbac.RoleOwner, rbac.RoleViewer, rbac.RoleOwner} {
				id, name := fmt.Sprintf("team_%d", i), fmt.Sprintf("team-%d", i)
				if err := st.CreateTeam(ctx, store.Team{ID: id, Name: name, CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
				if err := st.PutMember(ctx, store.Member{Team: id, User: u.ID, Role: string(role), Source: "manual", CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
				want[name] = string(role)
			}
			if err := st.CreateTeam(ctx, store.Team{ID: "team_other", Name: "other", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			if err := st.CreateApp(ctx, store.App{Name: "elsewhere", Team: "team_other", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			get := func(path string, out any) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("GET %s: %s", path, resp.Status)
				}
				if out != nil {
					if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
						t.Fatal(err)
					}
				}
			}

			before, beforeTeams := st.memberships.Load(), st.allTeams.Load()
			var apps []api.App
			get("/api/v1/apps", &apps)
			get("/api/v1/apps/elsewhere", nil)
			if n := st.memberships.Load() - before; n != 0 {
				t.Errorf("the admin's list and get read its memberships %d times, want 0", n)
			}
			if len(apps) != 1 || apps[0].Team != "other" {
				t.Errorf("the admin listed %+v, want the app of a team it is not a member of", apps)
			}

			for _, e := range []store.Environment{{Name: "env-a", Team: "team_0"}, {Name: "env-none"}, {Name: "env-other", Team: "team_other"}, {Name: "env-gone", Team: "team_gone"}} {
				e.Cluster, e.Namespace, e.CreatedAt = "eu", e.Name, now
				if err := st.CreateEnvironment(ctx, e); err != nil {
					t.Fatal(err)
				}
			}
			var envs []api.Environment
			get("/api/v1/envs", &envs)
			gotEnvs := map[string]string{}
			for _, e := range envs {
				gotEnvs[e.Name] = e.Team
			}
			if want := map[string]string{"env-a": "team-0", "env-none": "", "env-other": "other"}; !maps.Equal(gotEnvs, want) {
				t.Errorf("the admin lists environments (name: team) %v, want %v", gotEnvs, want)
			}
			teamTok := teamViewerToken(t, st, "team_other", now)
			var toks []api.Token
			get("/api/v1/tokens", &toks)
			named := false
			for _, tk := range toks {
				named = named || (tk.Kind == "team" && tk.Team == "other" && strings.HasSuffix(teamTok, tk.Display[len(tk.Display)-4:]))
			}
			if !named {
				t.Errorf("the admin's token list lacks team other's token with its team: %+v", toks)
			}
			if n := st.memberships.Load() - before; n != 0 {
				t.Errorf("the admin's lists read its memberships %d times, want 0", n)
			}
			if n := st.allTeams.Load() - beforeTeams; n != 0 {
				t.Errorf("the admin's reads of apps, environments and tokens read every team %d times, want 0", n)
			}

			var who api.Whoami
			get("/api/v1/whoami", &who)
			if !who.PlatformAdmin || len(who.Teams) != len(want) {
				t.Fatalf("whoami = %+v, want the admin with teams %v", who, want)
			}
			for name, role := range want {
				if who.Teams[name] != role {
					t.Errorf("whoami: team %s role %q, want %q", name, who.Teams[name], role)
				}
			}
		})
	}
}
