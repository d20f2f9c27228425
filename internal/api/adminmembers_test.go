package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// countingStore is a real store that counts the reads of a user's
// memberships.
type countingStore struct {
	store.Store
	memberships atomic.Int64
}

func (c *countingStore) ListMemberships(ctx context.Context, user string) ([]store.Member, error) {
	c.memberships.Add(1)
	return c.Store.ListMemberships(ctx, user)
}

// TestAdminMembershipsReadOnlyToShow: a platform admin user's requests
// do not read its memberships (it holds every permission in every team
// anyway, and may be an owner of thousands), yet whoami still names its
// teams with its roles there, on both backends.
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

			before := st.memberships.Load()
			var apps []api.App
			get("/api/v1/apps", &apps)
			get("/api/v1/apps/elsewhere", nil)
			if n := st.memberships.Load() - before; n != 0 {
				t.Errorf("the admin's list and get read its memberships %d times, want 0", n)
			}
			if len(apps) != 1 || apps[0].Team != "other" {
				t.Errorf("the admin listed %+v, want the app of a team it is not a member of", apps)
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
