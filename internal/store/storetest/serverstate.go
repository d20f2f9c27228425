package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func ssoEntry(key, kind string, created time.Time) store.SSOPending {
	return store.SSOPending{Key: key, Kind: kind, Data: json.RawMessage(`{"state":"s-` + key + `"}`),
		CreatedAt: created, ExpiresAt: created.Add(10 * time.Minute)}
}

var ssoPendingTests = []test{
	{desc: "sso pending/taken exactly once", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := ssoEntry("k1", store.SSOLogin, t0)
		must(t, s.PutSSOPending(ctx, want, 10))
		wantErr(t, "put the key again", s.PutSSOPending(ctx, ssoEntry("k1", store.SSOLogin, t0), 10), store.ErrExists)
		// Another kind's key does not match: a code is no login.
		_, err := s.TakeSSOPending(ctx, store.SSOCLICode, "k1", t0)
		wantErr(t, "take as another kind", err, store.ErrNotFound)
		got, err := s.TakeSSOPending(ctx, store.SSOLogin, "k1", t0.Add(time.Minute))
		must(t, err)
		if string(got.Data) != string(want.Data) || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) {
			t.Errorf("took %+v, want %+v", got, want)
		}
		_, err = s.TakeSSOPending(ctx, store.SSOLogin, "k1", t0.Add(time.Minute))
		wantErr(t, "second take", err, store.ErrNotFound)
	}},
	{desc: "sso pending/expired entries are not taken and are pruned", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.PutSSOPending(ctx, ssoEntry("old", store.SSOLogin, t0), 10))
		_, err := s.TakeSSOPending(ctx, store.SSOLogin, "old", t0.Add(10*time.Minute))
		wantErr(t, "take at expiry", err, store.ErrNotFound)
		// The cap counts only live entries: an expired one is dropped by
		// the next put.
		must(t, s.PutSSOPending(ctx, ssoEntry("a", store.SSOLogin, t0), 1))
		wantErr(t, "put over the cap", s.PutSSOPending(ctx, ssoEntry("b", store.SSOLogin, t0), 1), store.ErrFull)
		must(t, s.PutSSOPending(ctx, ssoEntry("c", store.SSOCLICode, t0), 1)) // each kind has its own cap
		must(t, s.PutSSOPending(ctx, ssoEntry("b", store.SSOLogin, t0.Add(11*time.Minute)), 1))
		_, err = s.TakeSSOPending(ctx, store.SSOLogin, "a", t0.Add(11*time.Minute))
		wantErr(t, "take a pruned entry", err, store.ErrNotFound)
	}},
	{desc: "sso pending/empty key or bad data", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		wantErr(t, "empty key", s.PutSSOPending(ctx, ssoEntry("", store.SSOLogin, t0), 10), store.ErrInvalid)
		bad := ssoEntry("k", store.SSOLogin, t0)
		bad.Data = json.RawMessage(`{`)
		wantErr(t, "bad JSON", s.PutSSOPending(ctx, bad, 10), store.ErrInvalid)
	}},
	{desc: "sso pending/concurrent takes: one wins", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.PutSSOPending(ctx, ssoEntry("race", store.SSOLogin, t0), 10))
		var wg sync.WaitGroup
		var mu sync.Mutex
		won, lost := 0, 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.TakeSSOPending(ctx, store.SSOLogin, "race", t0)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, store.ErrNotFound):
					lost++
				default:
					t.Errorf("take: %v", err)
				}
			}()
		}
		wg.Wait()
		if won != 1 || lost != 7 {
			t.Fatalf("%d takes got the entry, %d did not; want 1 and 7", won, lost)
		}
	}},
}

var loginThrottleTests = []test{
	{desc: "login throttles/put, get, replace, delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.GetLoginThrottle(ctx, "ann@example.com", "10.0.0.1")
		wantErr(t, "get missing", err, store.ErrNotFound)
		want := store.LoginThrottle{Account: "ann@example.com", Client: "10.0.0.1", Failures: []time.Time{t0, t1}, LastFailure: t1}
		must(t, s.PutLoginThrottle(ctx, want))
		checkThrottle(t, s, want)
		want.Failures, want.LockedUntil, want.Lockouts = nil, t1.Add(time.Minute), 1
		must(t, s.PutLoginThrottle(ctx, want))
		checkThrottle(t, s, want)
		must(t, s.DeleteLoginThrottle(ctx, want.Account, want.Client))
		must(t, s.DeleteLoginThrottle(ctx, want.Account, want.Client)) // nothing left: no error
		_, err = s.GetLoginThrottle(ctx, want.Account, want.Client)
		wantErr(t, "get deleted", err, store.ErrNotFound)
		wantErr(t, "put without a client", s.PutLoginThrottle(ctx, store.LoginThrottle{Account: "x"}), store.ErrInvalid)
	}},
	{desc: "login throttles/prune keeps locked and recent pairs", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, lt := range []store.LoginThrottle{
			{Account: "idle", Client: "c", LastFailure: t0},
			{Account: "locked", Client: "c", LastFailure: t0, LockedUntil: t1.Add(time.Hour), Lockouts: 3},
			{Account: "recent", Client: "c", LastFailure: t1, Failures: []time.Time{t1}},
		} {
			must(t, s.PutLoginThrottle(ctx, lt))
		}
		n, err := s.PruneLoginThrottles(ctx, t1, t0.Add(time.Second))
		must(t, err)
		if n != 1 {
			t.Errorf("pruned %d, want 1", n)
		}
		for acct, want := range map[string]bool{"idle": false, "locked": true, "recent": true} {
			_, err := s.GetLoginThrottle(ctx, acct, "c")
			if got := err == nil; got != want {
				t.Errorf("%s kept = %v (%v), want %v", acct, got, err, want)
			}
		}
	}},
}

func checkThrottle(t *testing.T, s store.Store, want store.LoginThrottle) {
	t.Helper()
	got, err := s.GetLoginThrottle(t.Context(), want.Account, want.Client)
	must(t, err)
	same := len(got.Failures) == len(want.Failures) && got.Lockouts == want.Lockouts &&
		got.LockedUntil.Equal(want.LockedUntil) && got.LastFailure.Equal(want.LastFailure)
	for i := range got.Failures {
		same = same && got.Failures[i].Equal(want.Failures[i])
	}
	if !same {
		t.Errorf("GetLoginThrottle = %+v, want %+v", got, want)
	}
}

var appPageTests = []test{
	{desc: "apps/pages of one team, in order, each app once", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const n = 2500
		var mine []string
		must(t, s.InTx(ctx, func(tx store.Tx) error {
			for i := range n {
				a := store.App{Name: fmt.Sprintf("app-%04d", i), Team: "team_b", CreatedAt: t0, UpdatedAt: t0}
				if i%3 == 0 {
					a.Team = "team_a"
					mine = append(mine, a.Name)
				}
				if err := tx.CreateApp(ctx, a); err != nil {
					return err
				}
			}
			return nil
		}))
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("paging does not end")
			}
			page, err := s.ListAppsPage(ctx, store.AppQuery{Teams: []string{"team_a", "team_nobody"}, After: after, Limit: 100})
			must(t, err)
			for _, a := range page {
				if a.Team != "team_a" {
					t.Fatalf("app %s of team %s listed for team_a", a.Name, a.Team)
				}
				got = append(got, a.Name)
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].Name
		}
		if !slices.Equal(got, mine) {
			t.Fatalf("pages list %d apps, want %d in order", len(got), len(mine))
		}
		both, err := s.ListAppsPage(ctx, store.AppQuery{Teams: []string{"team_a", "team_b"}, After: "app-0100", Limit: 3})
		must(t, err)
		if len(both) != 3 || both[0].Name != "app-0101" || both[2].Name != "app-0103" {
			t.Errorf("page after app-0100 of both teams: %v", both)
		}
		none, err := s.ListAppsPage(ctx, store.AppQuery{Limit: 10})
		must(t, err)
		if len(none) != 0 {
			t.Errorf("no teams listed %d apps", len(none))
		}
		_, err = s.ListAppsPage(ctx, store.AppQuery{Teams: []string{"team_a"}})
		wantErr(t, "limit 0", err, store.ErrInvalid)
	}},
}
