package storetest

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

var canaryTests = []test{
	{desc: "apps/canary round trips through create, update and clear", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		in := testApp("shop")
		in.Canary = &store.Canary{Release: 2, Weight: 10, Step: 0, StepStartedAt: t0, Manual: true}
		must(t, s.CreateApp(ctx, in))
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		checkApp(t, "GetApp", got, in)

		// Every field changes on update.
		got.Canary = &store.Canary{Release: 3, Weight: 50, Step: 1, StepStartedAt: t1, Promote: true}
		v, err := s.UpdateApp(ctx, got)
		must(t, err)
		again, err := s.GetApp(ctx, "shop")
		must(t, err)
		want := got
		want.Version = v
		checkApp(t, "GetApp after update", again, want)
		list, err := s.ListApps(ctx)
		must(t, err)
		checkApp(t, "ListApps after update", list[0], want)

		// nil clears it.
		again.Canary = nil
		v, err = s.UpdateApp(ctx, again)
		must(t, err)
		cleared, err := s.GetApp(ctx, "shop")
		must(t, err)
		if cleared.Canary != nil || cleared.Version != v {
			t.Errorf("after clearing: canary %+v version %d, want nil and %d", cleared.Canary, cleared.Version, v)
		}
	}},
	{desc: "apps/canary zero time and weight round trip", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		in := store.App{Name: "bare", Canary: &store.Canary{}}
		must(t, s.CreateApp(ctx, in))
		got, err := s.GetApp(ctx, "bare")
		must(t, err)
		if got.Canary == nil || !got.Canary.StepStartedAt.Equal(time.Time{}) || *got.Canary != (store.Canary{}) {
			t.Errorf("canary = %+v, want a zero canary (not nil)", got.Canary)
		}
	}},
	{desc: "apps/canary of a returned app is a copy", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		in := testApp("shop")
		in.Canary = &store.Canary{Release: 2, Weight: 10, StepStartedAt: t0}
		must(t, s.CreateApp(ctx, in))
		in.Canary.Weight = 99 // the caller's copy, not the stored one
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		got.Canary.Weight = 77
		again, err := s.GetApp(ctx, "shop")
		must(t, err)
		if again.Canary.Weight != 10 {
			t.Errorf("stored weight = %d, want 10", again.Canary.Weight)
		}
	}},
	{desc: "apps/canary change with a stale version is refused", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		a, err := s.GetApp(ctx, "shop")
		must(t, err)
		stale := a
		a.Canary = &store.Canary{Release: 2, Weight: 10, StepStartedAt: t0}
		_, err = s.UpdateApp(ctx, a)
		must(t, err)
		stale.Canary = &store.Canary{Release: 2, Weight: 50, StepStartedAt: t1}
		_, err = s.UpdateApp(ctx, stale)
		wantErr(t, "UpdateApp stale", err, store.ErrConflict)
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		if got.Canary == nil || got.Canary.Weight != 10 {
			t.Errorf("canary after conflict = %+v, want weight 10", got.Canary)
		}
	}},
}
