package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultCacheTTL is how long a pipeline cache nobody restores is kept.
const DefaultCacheTTL = 7 * 24 * time.Hour

// cacheSweepEvery is how often the leader looks for unused caches; a
// cache lives days, so an hour late costs nothing.
const cacheSweepEvery = time.Hour

// cacheSweep counts what PruneCaches removed, for the server's metrics.
type cacheSweep struct {
	cluster, local atomic.Int64
}

// CachesRemoved is how many caches sweeps removed since the server
// started: where is "cluster" (rows of the blob store's caches) or
// "local" (the local executor's folders).
func (r *Runner) CachesRemoved(where string) int64 {
	switch where {
	case "cluster":
		return r.caches.cluster.Load()
	case "local":
		return r.caches.local.Load()
	}
	return 0
}

// cacheDir is where the local executor keeps app's caches, one folder
// per key; a restore touches the key's folder (its modification time is
// its last use).
func (r *Runner) cacheDir(app string) string {
	return filepath.Join(r.opts.WorkDir, ".caches", app)
}

// cacheLoop prunes caches when the runner starts (it runs on the leader)
// and every cacheSweepEvery until ctx ends.
func (r *Runner) cacheLoop(ctx context.Context) {
	t := time.NewTicker(cacheSweepEvery)
	defer t.Stop()
	for {
		if _, err := r.PruneCaches(ctx); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "removing unused pipeline caches failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// PruneCaches removes the caches no step restored for CacheTTL: the
// store's rows of cluster caches (their archives stay in the blob store,
// unreferenced, for the blob collector: see store.PipelineCaches'
// PipelineCacheDigests) and the local executor's key folders under
// WorkDir/.caches (with half-saved leftovers of a crash). It returns how
// many it removed.
func (r *Runner) PruneCaches(ctx context.Context) (int, error) {
	before := r.opts.Now().Add(-r.opts.CacheTTL)
	gone, err := r.st.PrunePipelineCaches(ctx, before)
	if err != nil {
		return 0, fmt.Errorf("prune cluster caches: %w", err)
	}
	for _, c := range gone {
		r.log.InfoContext(ctx, "removed an unused pipeline cache", "app", c.App, "key", c.Key, "last_used", c.LastUsedAt, "digest", c.Digest)
	}
	r.caches.cluster.Add(int64(len(gone)))
	n, err := r.pruneLocalCaches(ctx, before)
	r.caches.local.Add(int64(n))
	return len(gone) + n, err
}

// pruneLocalCaches removes the key folders under WorkDir/.caches/<app>
// last used (made or restored) before t, and apps' folders left empty.
func (r *Runner) pruneLocalCaches(ctx context.Context, before time.Time) (int, error) {
	base := filepath.Join(r.opts.WorkDir, ".caches")
	apps, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("prune local caches: %w", err)
	}
	removed := 0
	var errs []error
	for _, app := range apps {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		if !app.IsDir() {
			continue
		}
		dir := filepath.Join(base, app.Name())
		keys, err := os.ReadDir(dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		left := len(keys)
		for _, k := range keys {
			fi, err := k.Info()
			if err != nil || !k.IsDir() || !fi.ModTime().Before(before) {
				continue
			}
			// Out of the way first, so a step restoring the key from now
			// on sees a miss, not half a folder (a removal that failed
			// midway is finished by a later sweep).
			gone := filepath.Join(dir, k.Name())
			if !strings.HasPrefix(k.Name(), ".gone-") {
				gone = filepath.Join(dir, ".gone-"+k.Name())
			}
			if err := os.Rename(filepath.Join(dir, k.Name()), gone); err != nil && !errors.Is(err, fs.ErrExist) {
				errs = append(errs, err)
				continue
			}
			if err := os.RemoveAll(gone); err != nil {
				errs = append(errs, err)
				continue
			}
			left--
			removed++
			r.log.InfoContext(ctx, "removed an unused local pipeline cache", "app", app.Name(), "key", k.Name(), "last_used", fi.ModTime())
		}
		if left == 0 {
			_ = os.Remove(dir) // a save that just made a key keeps it
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("prune local caches: %w", errors.Join(errs...))
	}
	return removed, nil
}
