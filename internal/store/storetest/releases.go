package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

var releaseTests = []test{
	{desc: "releases/create and get", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		want := testRelease("shop", 1)
		want.RollbackOf = 4
		want.Cause = "rollback"
		must(t, s.CreateRelease(ctx, want))
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "GetRelease", got, want)
	}},
	{desc: "releases/zero values round trip", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		want := store.Release{App: "shop", Number: 1}
		must(t, s.CreateRelease(ctx, want))
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "GetRelease", got, want)
	}},
	{desc: "releases/create duplicate number", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
		dup := testRelease("shop", 1)
		dup.State = "Other"
		wantErr(t, "CreateRelease again", s.CreateRelease(ctx, dup), store.ErrExists)
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "GetRelease after failed create", got, testRelease("shop", 1))
		// Numbers are per app.
		must(t, s.CreateRelease(ctx, testRelease("blog", 1)))
	}},
	{desc: "releases/create for a missing app", run: func(t *testing.T, s store.Store) {
		wantErr(t, "CreateRelease", s.CreateRelease(t.Context(), testRelease("nope", 1)), store.ErrNotFound)
	}},
	{desc: "releases/create invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		for _, tc := range []struct {
			desc string
			mod  func(r *store.Release)
		}{
			{desc: "empty app", mod: func(r *store.Release) { r.App = "" }},
			{desc: "number 0", mod: func(r *store.Release) { r.Number = 0 }},
			{desc: "negative number", mod: func(r *store.Release) { r.Number = -1 }},
			{desc: "spec not JSON", mod: func(r *store.Release) { r.Spec = json.RawMessage(`{"name":`) }},
		} {
			r := testRelease("shop", 1)
			tc.mod(&r)
			wantErr(t, tc.desc, s.CreateRelease(ctx, r), store.ErrInvalid)
		}
		rs, err := s.ListReleases(ctx, "shop")
		must(t, err)
		if len(rs) != 0 {
			t.Errorf("invalid releases were stored: %+v", rs)
		}
	}},
	{desc: "releases/get missing", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
		_, err := s.GetRelease(ctx, "shop", 2)
		wantErr(t, "GetRelease missing number", err, store.ErrNotFound)
		_, err = s.GetRelease(ctx, "nope", 1)
		wantErr(t, "GetRelease missing app", err, store.ErrNotFound)
	}},
	{desc: "releases/list ascending by number", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		// 10 after 9 checks the order is numeric, not textual.
		for _, n := range []int{3, 10, 1, 9, 2} {
			must(t, s.CreateRelease(ctx, testRelease("shop", n)))
		}
		must(t, s.CreateRelease(ctx, testRelease("blog", 5)))
		rs, err := s.ListReleases(ctx, "shop")
		must(t, err)
		var nums []int
		for _, r := range rs {
			nums = append(nums, r.Number)
			checkRelease(t, "ListReleases entry", r, testRelease("shop", r.Number))
		}
		if want := []int{1, 2, 3, 9, 10}; !slices.Equal(nums, want) {
			t.Errorf("ListReleases numbers = %v, want %v", nums, want)
		}
		rs, err = s.ListReleases(ctx, "nope")
		must(t, err)
		if len(rs) != 0 {
			t.Errorf("ListReleases of a missing app = %+v, want none", rs)
		}
	}},
	{desc: "releases/update writes only the mutable fields", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
		r, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		r.State = "Ready"
		r.Reason = "Built"
		r.Message = "built in 3s"
		r.Artifacts = map[string]api.Artifact{"web": {Image: "registry/web@sha256:abc"}, "api": {Dir: "/b"}}
		r.UpdatedAt = t1
		want := r
		// Immutable: the update must not touch these.
		r.Spec = json.RawMessage(`{"changed":true}`)
		r.SpecHash = "changed"
		r.Source = "changed"
		r.Cause = "changed"
		r.RollbackOf = 77
		r.CreatedAt = t1
		v, err := s.UpdateRelease(ctx, r)
		must(t, err)
		if v != r.Version+1 {
			t.Errorf("UpdateRelease version = %d, want %d", v, r.Version+1)
		}
		want.Version = v
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "GetRelease after update", got, want)
	}},
	{desc: "releases/update with a stale version", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
		r, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		stale := r
		r.State = "Ready"
		_, err = s.UpdateRelease(ctx, r)
		must(t, err)
		stale.State = "Failed"
		_, err = s.UpdateRelease(ctx, stale)
		wantErr(t, "UpdateRelease stale", err, store.ErrConflict)
		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		if got.State != "Ready" || got.Version != r.Version+1 {
			t.Errorf("after conflict: State=%q Version=%d, want Ready and %d", got.State, got.Version, r.Version+1)
		}
	}},
	{desc: "releases/update missing", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.UpdateRelease(ctx, testRelease("nope", 1))
		wantErr(t, "UpdateRelease missing app", err, store.ErrNotFound)
		must(t, s.CreateApp(ctx, testApp("shop")))
		_, err = s.UpdateRelease(ctx, testRelease("shop", 1))
		wantErr(t, "UpdateRelease missing number", err, store.ErrNotFound)
	}},
	{desc: "releases/delete all of an app", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		for n := 1; n <= 3; n++ {
			must(t, s.CreateRelease(ctx, testRelease("shop", n)))
		}
		must(t, s.CreateRelease(ctx, testRelease("blog", 1)))
		must(t, s.DeleteReleases(ctx, "shop"))
		rs, err := s.ListReleases(ctx, "shop")
		must(t, err)
		if len(rs) != 0 {
			t.Errorf("releases after DeleteReleases: %d, want 0", len(rs))
		}
		_, err = s.GetRelease(ctx, "shop", 2)
		wantErr(t, "GetRelease after DeleteReleases", err, store.ErrNotFound)
		if _, err := s.GetApp(ctx, "shop"); err != nil {
			t.Errorf("the app went with its releases: %v", err)
		}
		rs, err = s.ListReleases(ctx, "blog")
		must(t, err)
		if len(rs) != 1 {
			t.Errorf("another app's releases: %d, want 1", len(rs))
		}
		// Nothing to delete is not an error.
		must(t, s.DeleteReleases(ctx, "shop"))
		must(t, s.DeleteReleases(ctx, "nope"))
		// Numbers are free again.
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
	}},
	{desc: "releases/sources of every app, each once", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		none, err := s.ReleaseSources(ctx)
		must(t, err)
		if len(none) != 0 {
			t.Errorf("ReleaseSources of no releases = %v", none)
		}
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 2)))
		must(t, s.CreateRelease(ctx, testRelease("blog", 1)))
		same := testRelease("shop", 3)
		same.Source = testRelease("blog", 1).Source // a rollback names an older archive again
		must(t, s.CreateRelease(ctx, same))
		bare := testRelease("blog", 2)
		bare.Source = ""
		must(t, s.CreateRelease(ctx, bare))
		got, err := s.ReleaseSources(ctx)
		must(t, err)
		if want := []string{testRelease("", 1).Source, testRelease("", 2).Source}; !slices.Equal(got, want) {
			t.Errorf("ReleaseSources = %v, want %v", got, want)
		}
		must(t, s.DeleteReleases(ctx, "blog"))
		got, err = s.ReleaseSources(ctx)
		must(t, err)
		if want := []string{testRelease("", 1).Source, testRelease("", 2).Source}; !slices.Equal(got, want) {
			t.Errorf("ReleaseSources after deleting blog's releases = %v, want %v (shop.3 still names 1's)", got, want)
		}
		must(t, s.DeleteReleases(ctx, "shop"))
		got, err = s.ReleaseSources(ctx)
		must(t, err)
		if len(got) != 0 {
			t.Errorf("ReleaseSources after deleting every release = %v", got)
		}
	}},
	{desc: "releases/returned objects are copies", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		in := testRelease("shop", 1)
		must(t, s.CreateRelease(ctx, in))
		in.Artifacts["web"] = api.Artifact{Image: "mutated"}
		in.Spec[0] = ' '

		got, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		got.Artifacts["web"] = api.Artifact{Image: "mutated"}
		got.Artifacts["new"] = api.Artifact{}
		got.Spec[0] = ' '
		list, err := s.ListReleases(ctx, "shop")
		must(t, err)
		list[0].Artifacts["web"] = api.Artifact{Image: "mutated"}

		again, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		checkRelease(t, "GetRelease after mutating copies", again, testRelease("shop", 1))
	}},
}
