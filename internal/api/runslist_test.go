package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestListRunsFiltersTeamsBeforeTheLimit: a member of one team asks for
// the newest runs while another team has many newer ones. The page must
// be full of the caller's runs, not the newest runs of everyone minus the
// hidden ones.
func TestListRunsFiltersTeamsBeforeTheLimit(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := t.Context()
	teamA, teamB := ts.createTeam(t, "team-a"), ts.createTeam(t, "team-b")
	ts.applyIn(t, "team-a", specShopA)
	ts.applyIn(t, "team-b", "name: shop-b\nservices:\n  web:\n    command: [./web]\n    ports: [8080]\n")
	t0 := time.Now().UTC().Add(-time.Hour)
	add := func(app, team string, n int, at time.Time) {
		t.Helper()
		err := ts.db.CreateRun(ctx, store.Run{ID: fmt.Sprintf("%s.%d", app, n), App: app, Team: team, Number: n,
			Trigger: "manual", State: store.RunSucceeded, CreatedAt: at})
		if err != nil {
			t.Fatal(err)
		}
	}
	for n := 1; n <= 3; n++ {
		add("shop-a", teamA.ID, n, t0.Add(time.Duration(n)*time.Second))
	}
	for n := 1; n <= 20; n++ {
		add("shop-b", teamB.ID, n, t0.Add(time.Minute+time.Duration(n)*time.Second))
	}
	tokA, _ := ts.teamToken(t, teamA.ID, rbac.RoleDeveloper, rbac.ScopeRead)

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/api/v1/runs?limit=3", []string{"shop-a.3", "shop-a.2", "shop-a.1"}},
		{"/api/v1/runs?limit=2", []string{"shop-a.3", "shop-a.2"}},
		{"/api/v1/runs?app=shop-b", []string{}},
	} {
		code, body := ts.callAs(t, tokA, http.MethodGet, tc.path, nil)
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", tc.path, code, body)
		}
		var runs []api.Run
		if err := json.Unmarshal(body, &runs); err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, r := range runs {
			got = append(got, r.ID)
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("GET %s as team-a = %v, want %v", tc.path, got, tc.want)
		}
	}
	// The platform admin still sees everyone's, newest first.
	var all []api.Run
	ts.mustCall(t, http.StatusOK, http.MethodGet, "/api/v1/runs?limit=2", nil, &all)
	if len(all) != 2 || all[0].ID != "shop-b.20" || all[1].ID != "shop-b.19" {
		t.Errorf("admin's newest 2 runs = %v, want shop-b.20, shop-b.19", all)
	}
}
