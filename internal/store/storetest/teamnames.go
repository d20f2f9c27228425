package storetest

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

// listByTeamTests: the reads lists use so that their cost does not grow
// with the number of teams.
var listByTeamTests = []test{
	{desc: "teams/names of only the IDs asked for", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for i := range 5 {
			must(t, s.CreateTeam(ctx, store.Team{ID: fmt.Sprintf("team_%d", i), Name: fmt.Sprintf("name-%d", i), CreatedAt: t0}))
		}
		got, err := s.TeamNames(ctx, []string{"team_3", "team_1", "team_3", "", "team_gone"})
		must(t, err)
		if want := map[string]string{"team_1": "name-1", "team_3": "name-3"}; !maps.Equal(got, want) {
			t.Errorf("TeamNames = %v, want %v", got, want)
		}
		// More IDs than one statement may carry parameters.
		many := make([]string, 70000)
		for i := range many {
			many[i] = fmt.Sprintf("team_%d", i)
		}
		got, err = s.TeamNames(ctx, many)
		must(t, err)
		if len(got) != 5 || got["team_4"] != "name-4" {
			t.Errorf("TeamNames of 70,000 IDs = %v, want the 5 teams", got)
		}
		none, err := s.TeamNames(ctx, nil)
		must(t, err)
		if none == nil || len(none) != 0 {
			t.Errorf("TeamNames(nil) = %#v, want an empty map", none)
		}
	}},
	{desc: "apps/a page of every team's apps: those of existing teams, in order", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, id := range []string{"team_a", "team_b"} {
			must(t, s.CreateTeam(ctx, store.Team{ID: id, Name: id, CreatedAt: t0}))
		}
		owners := []string{"team_a", "team_b", "", "team_gone"}
		var want []string
		must(t, s.InTx(ctx, func(tx store.Tx) error {
			for i := range 300 {
				a := store.App{Name: fmt.Sprintf("app-%03d", i), Team: owners[i%len(owners)], CreatedAt: t0, UpdatedAt: t0}
				if a.Team == "team_a" || a.Team == "team_b" {
					want = append(want, a.Name)
				}
				if err := tx.CreateApp(ctx, a); err != nil {
					return err
				}
			}
			return nil
		}))
		var got []string
		for after := ""; ; {
			// Teams is ignored when AllTeams is set.
			page, err := s.ListAppsPage(ctx, store.AppQuery{AllTeams: true, Teams: []string{"team_gone"}, After: after, Limit: 40})
			must(t, err)
			for _, a := range page {
				got = append(got, a.Name)
			}
			if len(page) < 40 {
				break
			}
			after = page[len(page)-1].Name
		}
		if !slices.Equal(got, want) {
			t.Errorf("pages of every team list %v, want %v", got, want)
		}
		_, err := s.ListAppsPage(ctx, store.AppQuery{AllTeams: true})
		wantErr(t, "limit 0", err, store.ErrInvalid)
	}},
}
