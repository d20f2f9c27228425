package storetest

import (
	"slices"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

var appTests = []test{
	{desc: "apps/create and get", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := testApp("shop")
		want.Deleting = true
		must(t, s.CreateApp(ctx, want))
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		checkApp(t, "GetApp", got, want)
	}},
	{desc: "apps/zero values round trip", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		want := store.App{Name: "bare"}
		must(t, s.CreateApp(ctx, want))
		got, err := s.GetApp(ctx, "bare")
		must(t, err)
		checkApp(t, "GetApp", got, want)
	}},
	{desc: "apps/create keeps the given version", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := testApp("shop")
		a.Version = 7
		must(t, s.CreateApp(ctx, a))
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		if got.Version != 7 {
			t.Errorf("Version = %d, want 7", got.Version)
		}
	}},
	{desc: "apps/create duplicate", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		dup := testApp("shop")
		dup.TargetRelease = 99
		wantErr(t, "CreateApp again", s.CreateApp(ctx, dup), store.ErrExists)
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		checkApp(t, "GetApp after failed create", got, testApp("shop"))
	}},
	{desc: "apps/create with empty name", run: func(t *testing.T, s store.Store) {
		wantErr(t, "CreateApp", s.CreateApp(t.Context(), store.App{}), store.ErrInvalid)
	}},
	{desc: "apps/get missing", run: func(t *testing.T, s store.Store) {
		_, err := s.GetApp(t.Context(), "nope")
		wantErr(t, "GetApp", err, store.ErrNotFound)
	}},
	{desc: "apps/list ordered by name", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		apps, err := s.ListApps(ctx)
		must(t, err)
		if len(apps) != 0 {
			t.Fatalf("ListApps on empty store = %d apps", len(apps))
		}
		for _, n := range []string{"c", "a", "b", "ab"} {
			must(t, s.CreateApp(ctx, testApp(n)))
		}
		apps, err = s.ListApps(ctx)
		must(t, err)
		var names []string
		for i, a := range apps {
			names = append(names, a.Name)
			checkApp(t, "ListApps["+a.Name+"]", apps[i], testApp(a.Name))
		}
		if want := []string{"a", "ab", "b", "c"}; !slices.Equal(names, want) {
			t.Errorf("ListApps names = %v, want %v", names, want)
		}
	}},
	{desc: "apps/update", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		a, err := s.GetApp(ctx, "shop")
		must(t, err)
		a.LatestRelease = 3
		a.TargetRelease = 3
		a.Ports = map[string]int{"web": 41005}
		a.Deleting = true
		a.Team = "team_b"
		a.Env = "staging"
		a.Status = api.AppStatus{Release: 3, Phase: api.PhaseProgressing}
		a.UpdatedAt = t1
		a.CreatedAt = t1 // ignored: CreatedAt is kept from CreateApp
		v, err := s.UpdateApp(ctx, a)
		must(t, err)
		if v != a.Version+1 {
			t.Errorf("UpdateApp version = %d, want %d", v, a.Version+1)
		}
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		want := a
		want.Version = v
		want.CreatedAt = t0
		checkApp(t, "GetApp after update", got, want)

		// The returned version is the one to use next.
		got.TargetRelease = 2
		v2, err := s.UpdateApp(ctx, got)
		must(t, err)
		if v2 != v+1 {
			t.Errorf("second UpdateApp version = %d, want %d", v2, v+1)
		}
	}},
	{desc: "apps/update with a stale version", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		a, err := s.GetApp(ctx, "shop")
		must(t, err)
		stale := a
		a.TargetRelease = 2
		_, err = s.UpdateApp(ctx, a)
		must(t, err)

		stale.TargetRelease = 5
		_, err = s.UpdateApp(ctx, stale)
		wantErr(t, "UpdateApp stale", err, store.ErrConflict)
		ahead := a
		ahead.Version += 5
		_, err = s.UpdateApp(ctx, ahead)
		wantErr(t, "UpdateApp ahead", err, store.ErrConflict)

		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		if got.TargetRelease != 2 || got.Version != a.Version+1 {
			t.Errorf("after conflicts: TargetRelease=%d Version=%d, want 2 and %d", got.TargetRelease, got.Version, a.Version+1)
		}
	}},
	{desc: "apps/update missing", run: func(t *testing.T, s store.Store) {
		_, err := s.UpdateApp(t.Context(), testApp("nope"))
		wantErr(t, "UpdateApp", err, store.ErrNotFound)
	}},
	{desc: "apps/delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		for _, n := range []string{"shop", "blog"} {
			must(t, s.CreateApp(ctx, testApp(n)))
			must(t, s.CreateRelease(ctx, testRelease(n, 1)))
			must(t, s.CreateRelease(ctx, testRelease(n, 2)))
		}
		must(t, s.DeleteApp(ctx, "shop"))
		_, err := s.GetApp(ctx, "shop")
		wantErr(t, "GetApp after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteApp again", s.DeleteApp(ctx, "shop"), store.ErrNotFound)
		rs, err := s.ListReleases(ctx, "shop")
		must(t, err)
		if len(rs) != 0 {
			t.Errorf("releases of a deleted app: %d, want 0", len(rs))
		}
		apps, err := s.ListApps(ctx)
		must(t, err)
		if len(apps) != 1 || apps[0].Name != "blog" {
			t.Errorf("ListApps after delete = %+v, want only blog", apps)
		}
		rs, err = s.ListReleases(ctx, "blog")
		must(t, err)
		if len(rs) != 2 {
			t.Errorf("releases of blog: %d, want 2", len(rs))
		}
		// The name is free again.
		must(t, s.CreateApp(ctx, testApp("shop")))
	}},
	{desc: "apps/delete missing", run: func(t *testing.T, s store.Store) {
		wantErr(t, "DeleteApp", s.DeleteApp(t.Context(), "nope"), store.ErrNotFound)
	}},
	{desc: "apps/returned objects are copies", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		in := testApp("shop")
		must(t, s.CreateApp(ctx, in))
		// Mutating what was passed in changes nothing stored.
		in.Ports["web"] = 1
		in.Status.Conditions[0].Reason = "mutated"

		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		got.Ports["web"] = 2
		got.Ports["new"] = 3
		got.Status.Conditions[0].Reason = "mutated"
		got.Status.Services[0].Instances[0].PID = 1

		list, err := s.ListApps(ctx)
		must(t, err)
		list[0].Ports["web"] = 4

		again, err := s.GetApp(ctx, "shop")
		must(t, err)
		checkApp(t, "GetApp after mutating copies", again, testApp("shop"))
	}},
}
