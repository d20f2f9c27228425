package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testRun(app string, n int) store.Run {
	return store.Run{
		ID: fmt.Sprintf("%s.%d", app, n), App: app, Team: "team_a", Number: n,
		Trigger: "push", Ref: "refs/heads/main", Commit: fmt.Sprintf("%040d", n), Before: fmt.Sprintf("%040d", n-1),
		Params: map[string]string{"LEVEL": "2"}, Detail: json.RawMessage(`{"delivery":"d1","paths":["a/b"]}`),
		CreatedBy: "github", State: store.RunQueued,
		Steps: []store.RunStep{
			{Name: "test", Kind: "run", Status: "pending"},
			{Name: "ok", Kind: "approval", Status: "pending"},
			// A step's artifact record and upload-token hash live in the
			// steps' JSON: every backend keeps them as written.
			{Name: "build", Kind: "run", Status: "success", UploadToken: "sha256:" + fmt.Sprintf("%064d", n),
				Artifacts: &store.StepArtifacts{Digest: "sha256:" + fmt.Sprintf("%064x", n), Size: 120, Count: 2, Files: []string{"bin/a", "bin/b"}, Bytes: 300},
				Cache:     &store.StepCache{Key: "deps-0123456789abcdef", Hit: true}},
		},
		CreatedAt: t0.Add(time.Duration(n) * time.Second), UpdatedAt: t0,
	}
}

func normRun(r store.Run) store.Run {
	r.CreatedAt, r.StartedAt, r.FinishedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.StartedAt.UTC(), r.FinishedAt.UTC(), r.UpdatedAt.UTC()
	steps := make([]store.RunStep, len(r.Steps))
	for i, s := range r.Steps {
		s.StartedAt, s.FinishedAt = s.StartedAt.UTC(), s.FinishedAt.UTC()
		steps[i] = s
	}
	r.Steps = steps
	if len(r.Params) == 0 {
		r.Params = nil
	}
	return r
}

func checkRun(t *testing.T, what string, got, want store.Run) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	checkUTC(t, what+": FinishedAt", got.FinishedAt)
	if !jsonEqual(got.Detail, want.Detail) {
		t.Errorf("%s: Detail = %s, want %s", what, got.Detail, want.Detail)
	}
	got.Detail, want.Detail = nil, nil
	if g, w := normRun(got), normRun(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

var runTests = []test{
	{desc: "runs/create, get, list newest first", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateApp(ctx, testApp("blog")))
		for _, r := range []store.Run{testRun("shop", 1), testRun("shop", 2), testRun("blog", 1)} {
			must(t, s.CreateRun(ctx, r))
		}
		got, err := s.GetRun(ctx, "shop.2")
		must(t, err)
		checkRun(t, "GetRun", got, testRun("shop", 2))
		list, err := s.ListRuns(ctx, store.RunFilter{App: "shop"})
		must(t, err)
		if len(list) != 2 || list[0].ID != "shop.2" || list[1].ID != "shop.1" {
			t.Errorf("ListRuns(shop) = %v, want shop.2, shop.1", runIDs(list))
		}
		all, err := s.ListRuns(ctx, store.RunFilter{Limit: 2})
		must(t, err)
		if len(all) != 2 {
			t.Errorf("ListRuns(limit 2) = %v", runIDs(all))
		}
		mine, err := s.ListRuns(ctx, store.RunFilter{Teams: []string{"team_a"}, Limit: 1})
		must(t, err)
		if len(mine) != 1 || mine[0].ID != "shop.2" {
			t.Errorf("ListRuns(team_a, limit 1) = %v, want shop.2", runIDs(mine))
		}
		for _, teams := range [][]string{{}, {"team_x"}} {
			none, err := s.ListRuns(ctx, store.RunFilter{Teams: teams})
			must(t, err)
			if len(none) != 0 {
				t.Errorf("ListRuns(teams %q) = %v, want none", teams, runIDs(none))
			}
		}
		n, err := s.LastRunNumber(ctx, "shop")
		must(t, err)
		if n != 2 {
			t.Errorf("LastRunNumber = %d, want 2", n)
		}
		n, err = s.LastRunNumber(ctx, "none")
		must(t, err)
		if n != 0 {
			t.Errorf("LastRunNumber(none) = %d, want 0", n)
		}
	}},
	{desc: "runs/duplicates, missing app, invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		wantErr(t, "missing app", s.CreateRun(ctx, testRun("shop", 1)), store.ErrNotFound)
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRun(ctx, testRun("shop", 1)))
		wantErr(t, "same ID", s.CreateRun(ctx, testRun("shop", 1)), store.ErrExists)
		sameNumber := testRun("shop", 1)
		sameNumber.ID = "other"
		wantErr(t, "same number", s.CreateRun(ctx, sameNumber), store.ErrExists)
		noID := testRun("shop", 3)
		noID.ID = ""
		wantErr(t, "empty ID", s.CreateRun(ctx, noID), store.ErrInvalid)
		badDetail := testRun("shop", 4)
		badDetail.Detail = json.RawMessage(`{`)
		wantErr(t, "bad detail", s.CreateRun(ctx, badDetail), store.ErrInvalid)
		_, err := s.GetRun(ctx, "nope")
		wantErr(t, "get missing", err, store.ErrNotFound)
	}},
	{desc: "runs/update with version, filter by state", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRun(ctx, testRun("shop", 1)))
		must(t, s.CreateRun(ctx, testRun("shop", 2)))
		r, err := s.GetRun(ctx, "shop.1")
		must(t, err)
		r.State, r.Reason, r.ExitCode, r.CancelRequested = store.RunFailed, "step test failed", 3, true
		r.Ref, r.Commit = "refs/heads/dev", fmt.Sprintf("%040x", 99)
		r.StartedAt, r.FinishedAt, r.UpdatedAt = t1, t1.Add(time.Second), t1
		r.Steps[0] = store.RunStep{Name: "test", Kind: "run", Status: "failure", Attempt: 2, ExitCode: 3, Reason: "exit code 3", StartedAt: t1, FinishedAt: t1.Add(time.Second)}
		v, err := s.UpdateRun(ctx, r)
		must(t, err)
		if v != r.Version+1 {
			t.Errorf("UpdateRun version = %d, want %d", v, r.Version+1)
		}
		_, err = s.UpdateRun(ctx, r)
		wantErr(t, "stale version", err, store.ErrConflict)
		got, err := s.GetRun(ctx, "shop.1")
		must(t, err)
		r.Version = v
		checkRun(t, "after update", got, r)
		failed, err := s.ListRuns(ctx, store.RunFilter{States: []string{store.RunFailed, store.RunCancelled}})
		must(t, err)
		if len(failed) != 1 || failed[0].ID != "shop.1" {
			t.Errorf("ListRuns(failed) = %v", runIDs(failed))
		}
		missing := r
		missing.ID = "nope"
		_, err = s.UpdateRun(ctx, missing)
		wantErr(t, "update missing", err, store.ErrNotFound)
	}},
	{desc: "runs/deleting the app deletes its runs", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRun(ctx, testRun("shop", 1)))
		must(t, s.DeleteApp(ctx, "shop"))
		_, err := s.GetRun(ctx, "shop.1")
		wantErr(t, "run of deleted app", err, store.ErrNotFound)
	}},
	{desc: "approvals/one decision per person and step, in order", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		wantErr(t, "missing run", s.CreateApproval(ctx, store.Approval{Run: "shop.1", Step: "ok", Who: "u1", Decision: store.DecisionApprove, Time: t0}), store.ErrNotFound)
		must(t, s.CreateRun(ctx, testRun("shop", 1)))
		a1 := store.Approval{Run: "shop.1", Step: "ok", Who: "u1", Decision: store.DecisionApprove, Comment: "looks good", Time: t0}
		a2 := store.Approval{Run: "shop.1", Step: "ok", Who: "u2", Decision: store.DecisionReject, Time: t1}
		must(t, s.CreateApproval(ctx, a1))
		must(t, s.CreateApproval(ctx, a2))
		again := a1
		again.Decision = store.DecisionReject
		wantErr(t, "second decision", s.CreateApproval(ctx, again), store.ErrExists)
		bad := a1
		bad.Who, bad.Decision = "u3", "maybe"
		wantErr(t, "bad decision", s.CreateApproval(ctx, bad), store.ErrInvalid)
		got, err := s.ListApprovals(ctx, "shop.1")
		must(t, err)
		a1.Time, a2.Time = a1.Time.UTC(), a2.Time.UTC()
		if !reflect.DeepEqual(got, []store.Approval{a1, a2}) {
			t.Errorf("ListApprovals = %+v", got)
		}
	}},
	{desc: "deliveries/seen once, concurrently, pruned", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const n = 8
		var (
			wg    sync.WaitGroup
			mu    sync.Mutex
			fresh int
		)
		for range n {
			wg.Go(func() {
				seen, err := s.RecordDelivery(ctx, "github:abc", t0)
				if err != nil {
					t.Error(err)
					return
				}
				if !seen {
					mu.Lock()
					fresh++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if fresh != 1 {
			t.Errorf("%d of %d concurrent records were new, want 1", fresh, n)
		}
		seen, err := s.RecordDelivery(ctx, "github:later", t1)
		must(t, err)
		if seen {
			t.Error("a new ID was reported seen")
		}
		pruned, err := s.PruneDeliveries(ctx, t0.Add(time.Minute))
		must(t, err)
		if pruned != 1 {
			t.Errorf("pruned %d, want 1", pruned)
		}
		if seen, _ := s.RecordDelivery(ctx, "github:later", t1); !seen {
			t.Error("an unpruned ID was forgotten")
		}
		_, err = s.RecordDelivery(ctx, "", t0)
		wantErr(t, "empty id", err, store.ErrInvalid)
	}},
	{desc: "pipelines/put replaces, get, list", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		p := store.PipelineState{App: "shop", Team: "team_a", Definition: json.RawMessage(`{"on":["push"]}`), Commit: fmt.Sprintf("%040d", 1), Schedule: "@daily", UpdatedAt: t0}
		wantErr(t, "missing app", s.PutPipeline(ctx, p), store.ErrNotFound)
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.PutPipeline(ctx, p))
		p.LastScheduled, p.Schedule = t1, "@hourly"
		must(t, s.PutPipeline(ctx, p))
		got, err := s.GetPipeline(ctx, "shop")
		must(t, err)
		if got.Schedule != "@hourly" || !got.LastScheduled.Equal(t1) || !jsonEqual(got.Definition, p.Definition) || got.Commit != p.Commit {
			t.Errorf("GetPipeline = %+v", got)
		}
		checkUTC(t, "LastScheduled", got.LastScheduled)
		list, err := s.ListPipelines(ctx)
		must(t, err)
		if len(list) != 1 || list[0].App != "shop" {
			t.Errorf("ListPipelines = %+v", list)
		}
		_, err = s.GetPipeline(ctx, "nope")
		wantErr(t, "get missing", err, store.ErrNotFound)
	}},
}

func runIDs(rs []store.Run) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}
