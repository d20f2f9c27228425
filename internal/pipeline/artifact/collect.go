package artifact

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
)

// Collect lists the regular files under root that the artifact patterns
// name (a folder takes all under it, a glob what it matches), as the
// local executor copies them: walked through root, so neither ".." nor a
// symlink leads outside; symlinks and devices are skipped (and said on
// log). A pattern that matches nothing is said on log too.
func Collect(ctx context.Context, root *os.Root, patterns []string, log io.Writer) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	for _, raw := range patterns {
		pat := path.Clean(strings.TrimSuffix(raw, "/"))
		if pat == "." || pat == ".." || strings.HasPrefix(pat, "../") || path.IsAbs(pat) {
			return nil, fmt.Errorf("artifact %q is outside the checkout", raw)
		}
		before := len(files)
		start := pipeline.GlobPrefix(pat)
		err := fs.WalkDir(root.FS(), start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) && p == start {
					return fs.SkipAll
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			switch {
			case d.IsDir() || !pipeline.MatchesOrUnder(pat, p):
				return nil
			case d.Type()&fs.ModeSymlink != 0:
				fmt.Fprintf(log, "artifacts: skipped symlink %s\n", p)
				return nil
			case !d.Type().IsRegular():
				return nil
			}
			if !seen[p] {
				seen[p] = true
				files = append(files, p)
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.SkipAll) {
			return nil, fmt.Errorf("artifacts %s: %w", raw, err)
		}
		if len(files) == before {
			fmt.Fprintf(log, "artifacts: nothing matches %s\n", raw)
		}
	}
	return files, nil
}
