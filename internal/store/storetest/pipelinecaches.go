package storetest

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testCache(app, key string, n int) store.PipelineCache {
	at := t0.Add(time.Duration(n) * time.Hour)
	return store.PipelineCache{App: app, Key: key, Digest: fmt.Sprintf("sha256:%064x", n), Size: int64(100 * n), CreatedAt: at, LastUsedAt: at}
}

var pipelineCacheTests = []test{
	{desc: "pipeline caches/first save wins, get, touch never goes back", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		want := testCache("shop", "deps-1", 1)
		created, err := s.CreatePipelineCache(ctx, want)
		must(t, err)
		if !created {
			t.Fatal("first CreatePipelineCache: created = false")
		}
		second := testCache("shop", "deps-1", 2)
		created, err = s.CreatePipelineCache(ctx, second)
		must(t, err)
		if created {
			t.Error("second save of a key: created = true, want false (the first wins)")
		}
		got, err := s.GetPipelineCache(ctx, "shop", "deps-1")
		must(t, err)
		// Times come back in UTC (t0 is not).
		want.CreatedAt, want.LastUsedAt = want.CreatedAt.UTC(), want.LastUsedAt.UTC()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("GetPipelineCache = %+v, want %+v", got, want)
		}
		later := t0.Add(48 * time.Hour)
		must(t, s.TouchPipelineCache(ctx, "shop", "deps-1", later))
		must(t, s.TouchPipelineCache(ctx, "shop", "deps-1", t0)) // an older toucher
		got, err = s.GetPipelineCache(ctx, "shop", "deps-1")
		must(t, err)
		if !got.LastUsedAt.Equal(later) || !got.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("after touches: created %v, last used %v; want %v, %v", got.CreatedAt, got.LastUsedAt, want.CreatedAt, later)
		}
		_, err = s.GetPipelineCache(ctx, "shop", "other")
		wantErr(t, "Get missing key", err, store.ErrNotFound)
		_, err = s.GetPipelineCache(ctx, "blog", "deps-1")
		wantErr(t, "Get of another app", err, store.ErrNotFound)
		wantErr(t, "Touch missing", s.TouchPipelineCache(ctx, "shop", "other", later), store.ErrNotFound)
		_, err = s.CreatePipelineCache(ctx, testCache("nope", "k", 1))
		wantErr(t, "Create for a missing app", err, store.ErrNotFound)
		_, err = s.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Digest: "sha256:x"})
		wantErr(t, "Create without key", err, store.ErrInvalid)
		// Delete names the content it means: a key saved anew since
		// (another digest) stays.
		wantErr(t, "Delete of other content", s.DeletePipelineCache(ctx, "shop", "deps-1", second.Digest), store.ErrNotFound)
		if _, err := s.GetPipelineCache(ctx, "shop", "deps-1"); err != nil {
			t.Errorf("Delete of other content removed the key: %v", err)
		}
		must(t, s.DeletePipelineCache(ctx, "shop", "deps-1", want.Digest))
		wantErr(t, "Delete twice", s.DeletePipelineCache(ctx, "shop", "deps-1", want.Digest), store.ErrNotFound)
	}},
	{desc: "pipeline caches/prune unused, digests, removed with the app", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		for i, c := range []store.PipelineCache{testCache("shop", "a", 1), testCache("shop", "b", 3), testCache("blog", "a", 2), testCache("blog", "same", 3)} {
			if _, err := s.CreatePipelineCache(ctx, c); err != nil {
				t.Fatalf("cache %d: %v", i, err)
			}
		}
		// "a" of shop is old but was just used: it stays.
		must(t, s.TouchPipelineCache(ctx, "shop", "a", t0.Add(10*time.Hour)))
		digests, err := s.PipelineCacheDigests(ctx)
		must(t, err)
		want := []string{fmt.Sprintf("sha256:%064x", 1), fmt.Sprintf("sha256:%064x", 2), fmt.Sprintf("sha256:%064x", 3)}
		if !slices.Equal(digests, want) {
			t.Errorf("PipelineCacheDigests = %v, want %v (sorted, each once)", digests, want)
		}
		gone, err := s.PrunePipelineCaches(ctx, t0.Add(3*time.Hour))
		must(t, err)
		if len(gone) != 1 || gone[0].App != "blog" || gone[0].Key != "a" {
			t.Errorf("PrunePipelineCaches(t0+3h) = %+v, want blog's a only", gone)
		}
		gone, err = s.PrunePipelineCaches(ctx, t0.Add(3*time.Hour))
		must(t, err)
		if len(gone) != 0 {
			t.Errorf("second prune = %+v, want none", gone)
		}
		must(t, s.DeleteApp(ctx, "blog"))
		_, err = s.GetPipelineCache(ctx, "blog", "same")
		wantErr(t, "cache of a deleted app", err, store.ErrNotFound)
		digests, err = s.PipelineCacheDigests(ctx)
		must(t, err)
		if !slices.Equal(digests, []string{want[0], want[2]}) { // shop's a and b
			t.Errorf("digests after the app went = %v", digests)
		}
	}},
	{desc: "pipeline caches/concurrent saves of one key: exactly one wins", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		var wg sync.WaitGroup
		wins := make(chan int, 8)
		for i := range 8 {
			wg.Go(func() {
				created, err := s.CreatePipelineCache(ctx, testCache("shop", "k", i+1))
				if err != nil {
					t.Errorf("save %d: %v", i, err)
				}
				if created {
					wins <- i
				}
			})
		}
		wg.Wait()
		close(wins)
		if n := len(wins); n != 1 {
			t.Errorf("%d saves won, want exactly 1", n)
		}
	}},
}
