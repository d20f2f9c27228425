package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/store"
)

// DefaultMaxArtifactBytes caps the content of one step's artifacts, as the
// local executor caps what it copies.
const DefaultMaxArtifactBytes = artifact.DefaultMaxBytes

// keepArtifacts packs the files the executor copied into dir for step into
// one tar.gz, puts it in the blob store (the database in HA, so any server
// serves it) and records it on the run's step. The workspace, dir with it,
// is deleted when the run ends: after this the archive is what is left.
func (r *Runner) keepArtifacts(ctx context.Context, env *runEnv, step, dir string, files []string) error {
	if r.opts.Blobs == nil {
		return errors.New("the server has no blob store to keep artifacts in")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open the step's artifacts: %w", err)
	}
	defer root.Close()
	// The archive is written in the data directory, which steps cannot
	// reach, not in the workspace, which they can.
	tmp, err := os.CreateTemp(filepath.Dir(r.logDir), ".artifacts-*")
	if err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	p, err := artifact.Pack(ctx, root, files, tmp, r.opts.MaxArtifactBytes)
	if err != nil {
		return fmt.Errorf("pack artifacts: %w", err)
	}
	if _, err := tmp.Seek(0, 0); err != nil {
		return fmt.Errorf("artifacts: %w", err)
	}
	if err := r.opts.Blobs.Put(ctx, p.Digest, tmp, p.Size); err != nil {
		return fmt.Errorf("store artifacts: %w", err)
	}
	rec := artifact.Record(p)
	// The step's record is written with the step's end (saveSteps), which
	// may be the first write that names the step at all.
	env.artifacts.keep(step, rec)
	env.log.note("step %s: artifacts kept: %d files, %d bytes (%s)", step, rec.Count, rec.Size, rec.Digest)
	return nil
}

// stagingDir is where the executor copies step's artifacts before they
// are packed: under the workspace folder's root (made by the server,
// 0711) but outside every run's workspace, which its steps own.
func (r *Runner) stagingDir(run, step string) string {
	return filepath.Join(r.opts.WorkDir, ".artifacts", run, step)
}

// dropStaging removes the step's copy once packed (or not), and the run's
// folder once empty.
func (r *Runner) dropStaging(run, step string) {
	dir := r.stagingDir(run, step)
	if err := os.RemoveAll(dir); err != nil {
		r.log.Warn("removing a step's artifact copy failed", "dir", dir, "err", err)
	}
	_ = os.Remove(filepath.Dir(dir)) // fails while another step's copy is there
}

// keptArtifacts is the record of the archives this run's steps kept, by
// step name; steps run concurrently, so it has its own lock.
type keptArtifacts struct {
	mu   sync.Mutex
	kept map[string]*store.StepArtifacts
	// caches is what the local executor said of each step's cache.
	caches map[string]*store.StepCache
}

func (k *keptArtifacts) keepCache(step string, c *store.StepCache) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.caches == nil {
		k.caches = map[string]*store.StepCache{}
	}
	k.caches[step] = c
}

func (k *keptArtifacts) cacheOf(step string) *store.StepCache {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.caches[step]
}

func (k *keptArtifacts) keep(step string, a *store.StepArtifacts) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kept == nil {
		k.kept = map[string]*store.StepArtifacts{}
	}
	k.kept[step] = a
}

func (k *keptArtifacts) of(step string) *store.StepArtifacts {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kept[step]
}

// withStoredArtifacts returns steps with the artifacts already recorded
// in stored, by step name, where steps has none, and the hash of each
// step's upload token and its cache record: an archive another server
// recorded (a pod's upload), a token minted since and a cache hit or save
// the routes recorded must survive the driver's next write.
func withStoredArtifacts(steps, stored []store.RunStep) []store.RunStep {
	out := slices.Clone(steps)
	for _, old := range stored {
		for i := range out {
			if out[i].Name != old.Name {
				continue
			}
			if out[i].Artifacts == nil {
				out[i].Artifacts = old.Artifacts
			}
			if out[i].UploadToken == "" {
				out[i].UploadToken = old.UploadToken
			}
			if out[i].Cache == nil {
				out[i].Cache = old.Cache
			}
		}
	}
	return out
}
