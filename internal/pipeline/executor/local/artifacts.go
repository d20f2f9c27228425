package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// collectArtifacts copies the files matching the step's artifact patterns
// from the checkout to ArtifactDir. The files are chosen by
// artifact.Collect, as the step agent of a cluster pod chooses them: a
// pattern naming a folder takes all under it; a glob takes the files it
// matches and everything under the folders it matches.
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
	files, err := artifact.Collect(ctx, from, s.Artifacts, noteWriter{out})
	if err != nil {
		return nil, err
	}
	c := &copier{from: from, to: to, budget: e.opts.MaxArtifactBytes, log: out}
	for _, p := range files {
		if err := c.file(p); err != nil {
			if errors.Is(err, errBudget) {
				return c.copied, fmt.Errorf("artifacts over %d bytes: %w", e.opts.MaxArtifactBytes, err)
			}
			return c.copied, err
		}
	}
	note(out, "artifacts: %d files saved", len(c.copied))
	return c.copied, nil
}

// noteWriter marks each line written to it as Berth's, like note.
type noteWriter struct{ out io.Writer }

func (w noteWriter) Write(b []byte) (int, error) {
	note(w.out, "%s", strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}
