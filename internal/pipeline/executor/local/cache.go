package local

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// A cache lives in <Dir>/<key>/src/... and <Dir>/<key>/home/..., mirroring
// the checkout and the home folder. Caches are immutable per key, like a
// lock file's digest: the first successful step saves it, later runs
// restore it.

// restoreCache expands the key and, if the cache exists, copies it into
// the workspace, owned by the step user.
func (e *Executor) restoreCache(ctx context.Context, s executor.StepSpec, out io.Writer) (string, bool, error) {
	key, err := expandKey(s)
	if err != nil {
		return "", false, err
	}
	dir := filepath.Join(s.Cache.Dir, key)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		note(out, "cache: no cache for key %s", key)
		return key, false, nil
	} else if err != nil {
		return key, false, err
	}
	// The folder's time is the cache's last use: the server's sweep
	// removes caches unused for --pipeline-cache-ttl. Marked before the
	// copy, so a sweep does not take it meanwhile.
	now := time.Now()
	if err := os.Chtimes(dir, now, now); err != nil {
		return key, false, err
	}
	for _, part := range []struct{ from, to string }{
		{filepath.Join(dir, "src"), s.Workspace.Src},
		{filepath.Join(dir, "home"), s.Workspace.Home},
	} {
		if err := copyDir(ctx, part.from, part.to, e.cred, e.opts.MaxCacheBytes, out); err != nil {
			return key, false, err
		}
	}
	note(out, "cache: restored key %s", key)
	return key, true, nil
}

// saveCache copies the cache paths into a fresh folder and renames it into
// place, so a reader never sees half a cache and two runs saving the same
// key at once do not mix.
func (e *Executor) saveCache(ctx context.Context, s executor.StepSpec, key string, out io.Writer) (bool, error) {
	final := filepath.Join(s.Cache.Dir, key)
	if _, err := os.Stat(final); err == nil {
		return false, nil
	}
	if err := os.MkdirAll(s.Cache.Dir, 0o700); err != nil {
		return false, err
	}
	tmp := filepath.Join(s.Cache.Dir, ".tmp-"+key+"-"+rand.Text()[:8])
	defer os.RemoveAll(tmp)
	budget := e.opts.MaxCacheBytes
	for _, p := range s.Cache.Paths {
		from, to, rel := s.Workspace.Src, filepath.Join(tmp, "src"), p
		if h, ok := strings.CutPrefix(p, "~/"); ok {
			from, to, rel = s.Workspace.Home, filepath.Join(tmp, "home"), h
		}
		rel = filepath.ToSlash(filepath.Clean(rel))
		if rel == ".." || strings.HasPrefix(rel, "../") || filepath.IsAbs(rel) {
			return false, fmt.Errorf("cache path %q is outside the workspace", p)
		}
		if err := copyPart(ctx, from, to, rel, &budget, out); err != nil {
			return false, err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(final); serr == nil {
			return false, nil // another run saved it first
		}
		return false, err
	}
	note(out, "cache: saved key %s", key)
	return true, nil
}

// copyPart copies rel (a file or folder) from the folder from into to,
// spending budget.
func copyPart(ctx context.Context, from, to, rel string, budget *int64, out io.Writer) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	fr, err := os.OpenRoot(from)
	if err != nil {
		return err
	}
	defer fr.Close()
	tr, err := os.OpenRoot(to)
	if err != nil {
		return err
	}
	defer tr.Close()
	c := &copier{from: fr, to: tr, budget: *budget, log: out}
	err = c.tree(ctx, rel, nil)
	*budget = c.budget
	if errors.Is(err, errBudget) {
		return fmt.Errorf("cache over the size limit: %w", err)
	}
	return err
}

// copyDir copies the whole folder from into to, giving what it creates to
// owner. A missing from copies nothing.
func copyDir(ctx context.Context, from, to string, owner *ids, budget int64, out io.Writer) error {
	fr, err := os.OpenRoot(from)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer fr.Close()
	tr, err := os.OpenRoot(to)
	if err != nil {
		return err
	}
	defer tr.Close()
	c := &copier{from: fr, to: tr, owner: owner, budget: budget, log: out}
	return c.tree(ctx, ".", nil)
}

// expandKey expands the step's key against its checkout as it is now
// (earlier steps of the run may have changed it).
func expandKey(s executor.StepSpec) (string, error) {
	return pipeline.ExpandCacheKeyIn(s.Workspace.Src, s.Cache.Key)
}
