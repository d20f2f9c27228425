package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// Expired is what one pass of ExpireArtifacts removed.
type Expired struct {
	Runs, Steps int
	// Bytes is the archives' size: what garbage collection frees once
	// no other run refers to the same content.
	Bytes int64
}

// ExpireArtifacts removes the artifact records p says have expired from
// their runs' steps; the runs, their steps' other fields and their logs
// stay, and each record keeps its counts and when it expired. A run
// changed since it was read (ErrConflict) is left for the next pass; so
// is one that fails to write, after the others were tried. Running it
// twice expires nothing more.
func ExpireArtifacts(ctx context.Context, st store.Runs, p Policy, now time.Time, log *slog.Logger) (Expired, error) {
	var out Expired
	if p.TTL <= 0 {
		return out, nil
	}
	runs, err := st.ListRuns(ctx, store.RunFilter{States: []string{store.RunSucceeded, store.RunFailed, store.RunCancelled}})
	if err != nil {
		return out, fmt.Errorf("retention: list runs: %w", err)
	}
	var errs []error
	for _, r := range p.expiring(runs, now) {
		steps, n, size := expireSteps(r.Steps, now)
		r.Steps = steps
		if _, err := st.UpdateRun(ctx, r); errors.Is(err, store.ErrConflict) {
			continue
		} else if err != nil {
			errs = append(errs, fmt.Errorf("retention: run %s: %w", r.ID, err))
			continue
		}
		out.Runs++
		out.Steps += n
		out.Bytes += size
		log.InfoContext(ctx, "pipeline artifacts expired", "run", r.ID, "app", r.App, "steps", n, "bytes", size,
			"finished_at", r.FinishedAt)
	}
	return out, errors.Join(errs...)
}

// expireSteps returns steps with every kept archive replaced by a record
// of what it was and when it expired, how many it replaced and their
// size.
func expireSteps(steps []store.RunStep, now time.Time) ([]store.RunStep, int, int64) {
	out := slices.Clone(steps)
	var (
		n    int
		size int64
	)
	for i, s := range out {
		if !s.Artifacts.Kept() {
			continue
		}
		a := s.Artifacts
		out[i].Artifacts = &store.StepArtifacts{Size: a.Size, Count: a.Count, Bytes: a.Bytes, ExpiredAt: now.UTC()}
		n++
		size += a.Size
	}
	return out, n, size
}
