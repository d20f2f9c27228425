package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/store"
)

// recover settles the runs a previous server left running: their step
// processes are gone with it or no longer watched, so each is marked
// failed with the reason and the steps that were running. Queued runs
// need nothing: the dispatcher starts them.
func (r *Runner) recover(ctx context.Context) error {
	runs, err := r.st.ListRuns(ctx, store.RunFilter{States: []string{store.RunRunning}})
	if err != nil {
		return fmt.Errorf("runner: list running runs: %w", err)
	}
	for _, run := range runs {
		r.mu.Lock()
		_, mine := r.active[run.ID]
		r.mu.Unlock()
		if mine {
			continue
		}
		var were []string
		_, err := r.update(ctx, run.ID, func(run *store.Run) error {
			if run.State != store.RunRunning {
				return errNotQueued
			}
			now := r.opts.Now().UTC()
			were = were[:0]
			for i := range run.Steps {
				s := &run.Steps[i]
				switch sched.Status(s.Status) {
				case sched.Running:
					were = append(were, s.Name)
					s.Status, s.Reason, s.FinishedAt = string(sched.Failed), "interrupted: the server restarted", now
				case sched.Pending:
					s.Status, s.Reason = string(sched.Cancelled), "the server restarted before it started"
				}
			}
			run.State, run.ExitCode, run.FinishedAt = store.RunFailed, 1, now
			run.Reason = "the server restarted during the run"
			if len(were) > 0 {
				run.Reason += " (step " + strings.Join(were, ", ") + " was running)"
			}
			run.Reason += "; re-run it with: berth run rerun " + run.ID
			return nil
		})
		if err != nil {
			r.log.WarnContext(ctx, "settling an interrupted run failed", "run", run.ID, "err", err)
			continue
		}
		if f, err := os.OpenFile(r.logPath(run.ID), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
			fmt.Fprintf(f, "[berth] the server restarted during the run; it was marked failed\n")
			f.Close()
		}
		r.cleanupCluster(ctx, run)
		ws := filepath.Join(r.opts.WorkDir, run.ID)
		killed := killOrphans(run.ID, ws)
		_ = os.RemoveAll(ws)
		r.log.WarnContext(ctx, "a run was interrupted by a server restart", "run", run.ID, "steps", were, "killed_process_groups", killed)
	}
	return nil
}
