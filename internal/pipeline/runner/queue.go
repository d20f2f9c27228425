package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/berthdev/berth/internal/store"
)

// dispatch starts the queued runs the limits allow, oldest first. A run
// over its pipeline's or team's limit waits; younger runs of other
// pipelines may pass it.
func (r *Runner) dispatch(ctx context.Context) error {
	queued, err := r.st.ListRuns(ctx, store.RunFilter{States: []string{store.RunQueued}})
	if err != nil {
		return fmt.Errorf("list queued runs: %w", err)
	}
	slices.Reverse(queued) // oldest first
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runCtx == nil || r.runCtx.Err() != nil {
		return nil
	}
	perApp, perTeam := map[string]int{}, map[string]int{}
	for _, a := range r.active {
		perApp[a.app]++
		perTeam[a.team]++
	}
	for _, q := range queued {
		if _, ok := r.active[q.ID]; ok {
			continue
		}
		if perApp[q.App] >= r.opts.PerPipeline || perTeam[q.Team] >= r.opts.PerTeam {
			continue
		}
		run, err := r.update(ctx, q.ID, func(run *store.Run) error {
			if run.State != store.RunQueued {
				return errNotQueued
			}
			now := r.opts.Now().UTC()
			if run.CancelRequested {
				run.State, run.Reason, run.FinishedAt = store.RunCancelled, "cancelled before it started", now
				return nil
			}
			run.State, run.StartedAt = store.RunRunning, now
			return nil
		})
		if errors.Is(err, errNotQueued) {
			continue
		}
		if err != nil {
			return fmt.Errorf("start run %s: %w", q.ID, err)
		}
		if run.State != store.RunRunning {
			continue
		}
		runCtx, cancel := context.WithCancelCause(r.runCtx)
		a := &activeRun{app: run.App, team: run.Team, cancel: cancel, decided: make(chan struct{}, 1)}
		r.active[run.ID] = a
		perApp[run.App]++
		perTeam[run.Team]++
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			defer cancel(nil)
			r.execute(runCtx, run, a)
			r.mu.Lock()
			delete(r.active, run.ID)
			r.mu.Unlock()
			r.poke()
		}()
	}
	return nil
}

var errNotQueued = errors.New("run is no longer queued")
