package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/store"
)

// uploadFor mints the token step's pod sends its artifacts and reaches
// its cache with, and records its hash on the run's step, replacing an
// earlier attempt's: the token is good for this run, this step and this
// attempt, while the step runs. The store holds only the hash, so any
// server sharing it can check a request, and a reader of the database
// cannot make one. cacheKey, when not "", is the key the server expanded
// for the step: recorded on the step in the same write, it is the only
// cache the token reaches.
func (r *Runner) uploadFor(ctx context.Context, env *runEnv, step, cacheKey string) (*executor.Upload, error) {
	if r.opts.UploadBaseURL == "" {
		return nil, errors.New("artifacts and caches on a cluster are sent by the step's pod to the server, and this server has no --advertise-url for pods to reach it: start it with --advertise-url, or remove artifacts and cache")
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("step token: %w", err)
	}
	tok := "bst_" + hex.EncodeToString(b)
	var cache *store.StepCache
	if cacheKey != "" {
		cache = &store.StepCache{Key: cacheKey}
	}
	_, err := r.update(ctx, env.run.ID, func(run *store.Run) error {
		for i := range run.Steps {
			if run.Steps[i].Name == step {
				run.Steps[i].UploadToken, run.Steps[i].Cache = artifact.HashToken(tok), cache
				return nil
			}
		}
		// The step's first write may not have happened yet; the driver's
		// next one fills the rest in (withStoredArtifacts keeps the hash
		// and the cache).
		run.Steps = append(run.Steps, store.RunStep{Name: step, Status: "running", UploadToken: artifact.HashToken(tok), Cache: cache})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("step token: %w", err)
	}
	return &executor.Upload{URL: r.stepURL(env, "artifacts", step), Token: tok}, nil
}

// stepURL is where a step's pod reaches the server for one of its
// step's things (artifacts, cache).
func (r *Runner) stepURL(env *runEnv, what, step string) string {
	return strings.TrimSuffix(r.opts.UploadBaseURL, "/") + "/api/v1/runs/" + url.PathEscape(env.run.ID) + "/" + what + "/" + url.PathEscape(step)
}
