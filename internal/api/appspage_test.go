package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// backends opens an empty store of each kind.
var backends = []struct {
	name string
	open func(t testing.TB) store.Store
}{
	{"sqlite", func(t testing.TB) store.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}},
	{"postgres", func(t testing.TB) store.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}},
}

// TestListAppsPaged: 2,500 apps in two teams; a token of one team pages
// through exactly its apps, each once, in order, and a platform admin
// sees both teams'. Bad paging parameters answer 400 naming them.
func TestListAppsPaged(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := b.open(t)
			now := time.Now().UTC()
			for _, id := range []string{"team_a", "team_b"} {
				if err := st.CreateTeam(ctx, store.Team{ID: id, Name: strings.ReplaceAll(id, "_", "-"), CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			var wantA, wantAll []string
			err := st.InTx(ctx, func(tx store.Tx) error {
				for i := range 2500 {
					a := store.App{Name: fmt.Sprintf("app-%04d", i), Team: "team_b", CreatedAt: now, UpdatedAt: now}
					if i%2 == 0 {
						a.Team = "team_a"
						wantA = append(wantA, a.Name)
					}
					wantAll = append(wantAll, a.Name)
					if err := tx.CreateApp(ctx, a); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			srv, admin := serveWithAdmin(t, st, now)
			teamA := teamViewerToken(t, st, "team_a", now)

			// Page by hand through the client, 100 at a time.
			c := client.New(srv.URL, teamA)
			var got []string
			after, pages := "", 0
			for {
				p, err := c.ListAppsPage(ctx, 100, after)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, a := range p.Apps {
					if a.Team != "team-a" {
						t.Fatalf("app %s of team %q listed for team-a", a.Name, a.Team)
					}
					got = append(got, a.Name)
				}
				if p.Next == "" {
					break
				}
				after = p.Next
			}
			if !slices.Equal(got, wantA) || pages != 13 {
				t.Fatalf("team-a paged %d apps in %d pages, want %d in order in 13", len(got), pages, len(wantA))
			}
			// The default page, and every page followed by ListApps.
			first, err := c.ListAppsPage(ctx, 0, "")
			if err != nil || len(first.Apps) != api.DefaultPageLimit || first.Next == "" {
				t.Fatalf("default page: %d apps, next %q, %v", len(first.Apps), first.Next, err)
			}
			all, err := client.New(srv.URL, admin).ListApps(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if names := appNames(all); !slices.Equal(names, wantAll) {
				t.Fatalf("the platform admin listed %d apps, want %d in order", len(names), len(wantAll))
			}
			upTo, err := c.ListAppsUpTo(ctx, 1234)
			if err != nil || !slices.Equal(appNames(upTo), wantA[:1234]) {
				t.Fatalf("first 1234 apps of team-a: %d, %v", len(upTo), err)
			}

			for _, tc := range []struct{ query, param string }{
				{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"}, {"limit=", "limit"},
				{"after=%25%25", "after"}, {"after=" + url.QueryEscape(encodeCursor("Not A Name")), "after"}, {"after=", "after"},
			} {
				req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/apps?"+tc.query, nil)
				req.Header.Set("Authorization", "Bearer "+teamA)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var eb api.ErrorBody
				_ = json.Unmarshal(body, &eb)
				if resp.StatusCode != http.StatusBadRequest || len(eb.Error.Details) != 1 || eb.Error.Details[0].Field != tc.param {
					t.Errorf("?%s: %d %s, want 400 naming %s", tc.query, resp.StatusCode, body, tc.param)
				}
			}
		})
	}
}

func appNames(apps []api.App) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.Name
	}
	return out
}
