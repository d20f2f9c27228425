package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestListAppsMatchesGets: every app in a page of GET /api/v1/apps is,
// byte for byte (after compacting the indentation), what GET
// /api/v1/apps/{name} answers for it, on both backends, for a platform
// admin and for a team token; and the pages hold exactly the apps the
// caller may list: those of existing teams (the admin; the bootstrap
// gives apps of no team to the default team) or of its own team, never
// those of a team that is gone.
func TestListAppsMatchesGets(t *testing.T) {
	t.Parallel()
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			st := b.open(t)
			now := time.Date(2031, 2, 3, 4, 5, 6, 789000000, time.UTC)
			for _, tm := range []store.Team{{ID: "team_a", Name: "alpha"}, {ID: "team_b", Name: "beta"}, {ID: "team_c", Name: "gamma"}} {
				tm.CreatedAt = now
				if err := st.CreateTeam(ctx, tm); err != nil {
					t.Fatal(err)
				}
			}
			// Apps of every shape the list shows: statuses with services
			// and conditions, a canary, an environment, deleting; in two
			// teams, in no team, and in a team that does not exist.
			owners := []string{"team_a", "team_b", "", "team_gone"}
			var wantAdmin, wantA []string
			err := st.InTx(ctx, func(tx store.Tx) error {
				for i := range 37 {
					a := store.App{
						Name: fmt.Sprintf("app-%02d", i), Team: owners[i%len(owners)],
						LatestRelease: i % 5, TargetRelease: i % 4, Ports: map[string]int{"web": 30000 + i},
						Deleting: i%7 == 3, Env: map[bool]string{true: "prod"}[i%3 == 0],
						CreatedAt: now.Add(time.Duration(i) * time.Minute), UpdatedAt: now.Add(time.Duration(i) * time.Hour),
						Status: api.AppStatus{Release: i % 4, Serving: i % 3, Phase: []string{api.PhaseRunning, api.PhaseProgressing, api.PhaseFailed}[i%3],
							Message: fmt.Sprintf("message <%d> & \"quoted\"", i), ObservedAt: now.Add(time.Duration(i) * time.Second)},
					}
					if i%2 == 0 {
						a.Status.Conditions = []api.Condition{{Type: "Available", Status: "True", Reason: "Ready", LastTransitionTime: now}}
						a.Status.Services = []api.ServiceStatus{{Name: "web", Desired: 2, Ready: 1, Release: i % 4, Address: "127.0.0.1:30000", Instances: []api.Instance{}}}
					}
					if i%5 == 1 {
						a.Canary = &store.Canary{Release: 2, Weight: 10, StepStartedAt: now}
						a.Status.Canary = &api.CanaryStatus{Release: 2, Stable: 1, Weight: 10, Step: 1}
					}
					switch a.Team {
					case "team_a":
						wantA = append(wantA, a.Name)
						wantAdmin = append(wantAdmin, a.Name)
					case "team_b", "":
						wantAdmin = append(wantAdmin, a.Name)
					}
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
			tok := teamViewerToken(t, st, "team_a", now)

			for _, c := range []struct {
				desc, token string
				want        []string
			}{
				{"platform admin", admin, wantAdmin},
				{"team token", tok, wantA},
			} {
				get := func(path string) (*http.Response, []byte) {
					req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
					req.Header.Set("Authorization", "Bearer "+c.token)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					body, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil {
						t.Fatal(err)
					}
					if resp.StatusCode != http.StatusOK {
						t.Fatalf("%s: GET %s: %d %s", c.desc, path, resp.StatusCode, body)
					}
					return resp, body
				}
				var listed []string
				path := "/api/v1/apps?limit=4"
				for path != "" {
					resp, body := get(path)
					var page []json.RawMessage
					if err := json.Unmarshal(body, &page); err != nil {
						t.Fatalf("%s: %s: %v", c.desc, body, err)
					}
					for _, item := range page {
						var a api.App
						if err := json.Unmarshal(item, &a); err != nil {
							t.Fatal(err)
						}
						listed = append(listed, a.Name)
						_, one := get("/api/v1/apps/" + a.Name)
						if got, want := compact(t, item), compact(t, one); !bytes.Equal(got, want) {
							t.Errorf("%s: app %s listed as\n%s\nbut read alone as\n%s", c.desc, a.Name, got, want)
						}
					}
					path = ""
					if next := resp.Header.Get(api.NextCursorHeader); next != "" {
						path = "/api/v1/apps?limit=4&after=" + next
					}
				}
				if !slices.Equal(listed, c.want) {
					t.Errorf("%s listed %v, want %v", c.desc, listed, c.want)
				}
			}
		})
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return out.Bytes()
}

// serveWithAdmin serves the API over st on a loopback server and returns
// it with the platform admin's token (made first: EnsureAdminToken makes
// one only while there is no token).
func serveWithAdmin(tb testing.TB, st store.Store, now time.Time) (*httptest.Server, string) {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := EnsureAdminToken(tb.Context(), st, dir, now, nil); err != nil {
		tb.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(New(Deps{Store: st, Logger: slog.New(slog.DiscardHandler)}))
	tb.Cleanup(srv.Close)
	return srv, strings.TrimSpace(string(raw))
}

// teamViewerToken makes a read-scoped viewer token of team in st.
func teamViewerToken(tb testing.TB, st store.Store, team string, now time.Time) string {
	tb.Helper()
	tok, tt, err := token.New(token.KindTeam, rbac.ScopeRead, now, 0)
	if err != nil {
		tb.Fatal(err)
	}
	err = st.CreateToken(tb.Context(), store.Token{ID: newID("tok"), Kind: string(token.KindTeam), Team: team, Role: string(rbac.RoleViewer),
		Scope: string(rbac.ScopeRead), Name: "test", Hash: tt.Hash, Last4: tt.Last4, CreatedAt: now})
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}
