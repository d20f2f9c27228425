package runner

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/cron"
)

// fireSchedules queues a run for every pipeline whose schedule came due.
// A schedule fires once however many times it came due while the server
// was down; the time it fired is stored first, so a restart never fires
// it twice.
func (r *Runner) fireSchedules(ctx context.Context) error {
	ps, err := r.st.ListPipelines(ctx)
	if err != nil {
		return fmt.Errorf("list pipelines: %w", err)
	}
	now := r.opts.Now().UTC()
	for _, p := range ps {
		if p.Schedule == "" {
			continue
		}
		s, err := cron.Parse(p.Schedule)
		if err != nil {
			continue // Parse refused it when the pipeline was read
		}
		base := p.LastScheduled
		if base.IsZero() {
			base = p.UpdatedAt
		}
		if next := s.Next(base); next.IsZero() || next.After(now) {
			continue
		}
		p.LastScheduled = now
		if err := r.st.PutPipeline(ctx, p); err != nil {
			return fmt.Errorf("pipeline %s: %w", p.App, err)
		}
		run, err := r.Start(ctx, StartRequest{App: p.App, Trigger: pipeline.EventSchedule, By: "schedule"})
		if err != nil {
			r.log.WarnContext(ctx, "a scheduled run could not be queued", "app", p.App, "err", err)
			continue
		}
		r.log.InfoContext(ctx, "schedule queued a run", "run", run.ID, "schedule", p.Schedule)
	}
	return nil
}
