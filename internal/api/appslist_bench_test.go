package api

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// BenchmarkListApps measures GET /api/v1/apps (the first page) as the
// platform admin on each backend, with 10,000 apps in one team and the
// given number of teams in all, the admin an owner of each: berthbench
// store creates about 2,000 teams as the admin in its write rounds
// before it lists.
func BenchmarkListApps(b *testing.B) {
	for _, be := range backends {
		for _, teams := range []int{1, 2000} {
			b.Run(fmt.Sprintf("%s/teams=%d", be.name, teams), func(b *testing.B) {
				st := be.open(b)
				srv, admin := seedListBench(b, st, 10000, teams)
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/apps", nil)
				req.Header.Set("Authorization", "Bearer "+admin)
				b.ResetTimer()
				for b.Loop() {
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		}
	}
}

// seedListBench writes apps (in the first team) and teams into st and
// serves the API over it; it returns the server and the admin token.
func seedListBench(tb testing.TB, st store.Store, apps, teams int) (*httptest.Server, string) {
	tb.Helper()
	ctx := tb.Context()
	now := time.Now().UTC()
	err := st.InTx(ctx, func(tx store.Tx) error {
		for i := range teams {
			if err := tx.CreateTeam(ctx, store.Team{ID: fmt.Sprintf("team_%05d", i), Name: fmt.Sprintf("t-%05d", i), CreatedAt: now}); err != nil {
				return err
			}
		}
		for i := range apps {
			a := store.App{Name: fmt.Sprintf("app-%05d", i), Team: "team_00000", Ports: map[string]int{"web": 20000 + i}, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateApp(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	srv, admin := serveWithAdmin(tb, st, now)
	u, err := st.GetUserByEmail(ctx, AdminEmail)
	if err != nil {
		tb.Fatal(err)
	}
	err = st.InTx(ctx, func(tx store.Tx) error {
		for i := range teams {
			if err := tx.PutMember(ctx, store.Member{Team: fmt.Sprintf("team_%05d", i), User: u.ID, Role: "owner", Source: "manual", CreatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return srv, admin
}
