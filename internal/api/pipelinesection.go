package api

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// sectionOf shows the pipeline section of the app's current spec when it
// has one: that is what the next run uses (the file is not read), so it
// replaces the definition a run last read, and File says berth.yaml.
func (s *server) sectionOf(ctx context.Context, a store.App, out *api.Pipeline) error {
	if a.TargetRelease == 0 {
		return nil
	}
	rel, err := s.Store.GetRelease(ctx, a.Name, a.TargetRelease)
	if err != nil {
		return fmt.Errorf("get release %s/%d: %w", a.Name, a.TargetRelease, err)
	}
	var sp struct {
		Pipeline json.RawMessage `json:"pipeline"`
	}
	if err := json.Unmarshal(rel.Spec, &sp); err != nil {
		return fmt.Errorf("release %s/%d spec: %w", a.Name, rel.Number, err)
	}
	if len(sp.Pipeline) == 0 {
		return nil
	}
	out.File = pipeline.SectionSource
	if string(out.Definition) != string(sp.Pipeline) {
		// The last run read something else (a file, an older section).
		out.Commit = ""
	}
	out.Definition = sp.Pipeline
	out.Executor = executorOf(sp.Pipeline)
	var p struct {
		Schedule string `json:"schedule"`
	}
	if json.Unmarshal(sp.Pipeline, &p) == nil {
		out.Schedule = p.Schedule
	}
	return nil
}
