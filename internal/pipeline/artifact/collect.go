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
	return collect(ctx, root, patterns, log, "artifacts")
}

// collect is Collect with what (artifacts, cache) naming the files in its
// notes.
func collect(ctx context.Context, root *os.Root, patterns []string, log io.Writer, what string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	for _, raw := range patterns {
		pat := path.Clean(strings.TrimSuffix(raw, "/"))
		if pat == "." || pat == ".." || strings.HasPrefix(pat, "../") || path.IsAbs(pat) {
			if what == "artifacts" {
				return nil, fmt.Errorf("artifact %q is outside the checkout", raw)
			}
			return nil, fmt.Errorf("%s path %q is outside its folder", what, raw)
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
				fmt.Fprintf(log, "%s: skipped symlink %s\n", what, p)
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
			return nil, fmt.Errorf("%s %s: %w", what, raw, err)
		}
		if len(files) == before {
			fmt.Fprintf(log, "%s: nothing matches %s\n", what, raw)
		}
	}
	return files, nil
}
