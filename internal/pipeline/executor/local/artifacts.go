package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// collectArtifacts copies the files matching the step's artifact patterns
// from the checkout to ArtifactDir. A pattern naming a folder takes all
// under it; a glob takes the files it matches and everything under the
// folders it matches.
func (e *Executor) collectArtifacts(ctx context.Context, s executor.StepSpec, out io.Writer) ([]string, error) {
	if err := os.MkdirAll(s.ArtifactDir, 0o700); err != nil {
		return nil, err
	}
	from, err := os.OpenRoot(s.Workspace.Src)
	if err != nil {
		return nil, err
	}
	defer from.Close()
	to, err := os.OpenRoot(s.ArtifactDir)
	if err != nil {
		return nil, err
	}
	defer to.Close()
	c := &copier{from: from, to: to, budget: e.opts.MaxArtifactBytes, log: out}
	for _, raw := range s.Artifacts {
		pat := path.Clean(strings.TrimSuffix(raw, "/"))
		if pat == "." || strings.HasPrefix(pat, "../") || pat == ".." || path.IsAbs(pat) {
			return c.copied, fmt.Errorf("artifact %q is outside the checkout", raw)
		}
		before := len(c.copied)
		include := func(p string) bool { return pipeline.MatchesOrUnder(pat, p) }
		if err := c.tree(ctx, pipeline.GlobPrefix(pat), include); err != nil {
			if errors.Is(err, errBudget) {
				return c.copied, fmt.Errorf("artifacts over %d bytes: %w", e.opts.MaxArtifactBytes, err)
			}
			return c.copied, err
		}
		if len(c.copied) == before {
			note(out, "artifacts: nothing matches %s", raw)
		}
	}
	note(out, "artifacts: %d files saved", len(c.copied))
	return c.copied, nil
}
