package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// Run restores the step's cache, runs its script, and on success collects
// its artifacts and saves its cache. The script's output and the
// executor's own notes ("[berth] ...") go to out.
func (e *Executor) Run(ctx context.Context, s executor.StepSpec, out io.Writer) (executor.Result, error) {
	res := executor.Result{Started: time.Now()}
	if s.Script == "" {
		return res, errors.New("local executor: the step has no script")
	}
	if s.Workspace.Src == "" || s.Workspace.Home == "" {
		return res, errors.New("local executor: the step has no workspace; call Prepare")
	}
	log := e.log.With("run", s.RunID, "step", s.Name)
	if s.Cache != nil {
		key, hit, err := e.restoreCache(ctx, s, out)
		if err != nil {
			return res, fmt.Errorf("local executor: cache: %w", err)
		}
		res.CacheKey, res.CacheHit = key, hit
	}
	p, err := e.runProcess(ctx, s, out)
	res.Finished = time.Now()
	if err != nil {
		return res, err
	}
	res.ExitCode, res.TimedOut, res.Cancelled = p.exitCode, p.timedOut, p.cancelled
	log.DebugContext(ctx, "step process ended", "exit_code", p.exitCode, "timed_out", p.timedOut, "cancelled", p.cancelled)
	switch {
	case p.timedOut:
		note(out, "step timed out after %s; its processes were stopped", s.Timeout)
	case p.cancelled:
		note(out, "step cancelled; its processes were stopped")
	}
	if res.ExitCode != 0 || res.TimedOut || res.Cancelled {
		return res, nil
	}
	if len(s.Artifacts) > 0 && s.ArtifactDir != "" {
		files, err := e.collectArtifacts(ctx, s, out)
		res.Artifacts = files
		if err != nil {
			return res, fmt.Errorf("local executor: artifacts: %w", err)
		}
	}
	if s.Cache != nil && !res.CacheHit && res.CacheKey != "" {
		saved, err := e.saveCache(ctx, s, res.CacheKey, out)
		if err != nil {
			// A cache is an optimisation: failing to save one must not fail
			// a step that worked.
			note(out, "cache: not saved: %v", err)
			log.WarnContext(ctx, "saving a pipeline cache failed", "key", res.CacheKey, "err", err)
		}
		res.CacheSaved = saved
	}
	res.Finished = time.Now()
	return res, nil
}
