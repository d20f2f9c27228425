package retention

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

// reference is one kind of record that refers to blobs.
type reference struct {
	name    string
	digests func(ctx context.Context, st store.Store) ([]string, error)
}

// references is every place the platform refers to a blob from: a blob
// none of them names is garbage once its grace period is over. This is
// the one list: a new kind of record that keeps blobs adds its line here
// (and, if backups must carry its blobs, to internal/backup's schema.go).
var references = []reference{
	// Deleting an app deletes its releases, and so their claim.
	{"release source archives", func(ctx context.Context, st store.Store) ([]string, error) { return st.ReleaseSources(ctx) }},
	{"pipeline run artifacts", runArtifacts},
	{"pipeline caches", func(ctx context.Context, st store.Store) ([]string, error) { return st.PipelineCacheDigests(ctx) }},
}

// Referenced returns the digests every reference names.
func Referenced(ctx context.Context, st store.Store) (map[string]bool, error) {
	out := map[string]bool{}
	for _, ref := range references {
		ds, err := ref.digests(ctx, st)
		if err != nil {
			return nil, fmt.Errorf("retention: %s: %w", ref.name, err)
		}
		for _, d := range ds {
			out[d] = true
		}
	}
	return out, nil
}

// runArtifacts are the archives runs' steps keep (not expired). Live
// runs are read too: a step that just kept its archive refers to it.
func runArtifacts(ctx context.Context, st store.Store) ([]string, error) {
	runs, err := st.ListRuns(ctx, store.RunFilter{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range runs {
		out = append(out, store.KeptArtifacts(r.Steps)...)
	}
	return out, nil
}
