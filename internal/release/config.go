package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// A release records the config set version and the versions of the
// secrets its services name (never values). When a config or secret write
// changes that snapshot, a new release copying the target's spec, source
// and artifacts is created, and the reconciler rolls it out like any
// other: new instances get the new values, old ones stop.

// Env is the config set environment a release of a reads: the app's
// environment, or "default" for an app on the local runtime.
func Env(a store.App) string {
	if a.Env != "" {
		return a.Env
	}
	return api.DefaultConfigEnv
}

// SecretNames are the secrets the services of sp name, sorted, once each.
func SecretNames(sp *spec.App) []string {
	seen := map[string]bool{}
	for _, s := range sp.Services {
		if s == nil {
			continue
		}
		for _, n := range s.Secrets {
			seen[n] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SpecOf decodes a stored release's spec.
func SpecOf(rel store.Release) (*spec.App, error) {
	return decodeSpec(rel.App, rel.Number, rel.Spec)
}

func decodeSpec(app string, number int, raw []byte) (*spec.App, error) {
	var a spec.App
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, fmt.Errorf("release %s/%d: decode spec: %w", app, number, err)
	}
	return &a, nil
}

// ConfigSnapshot is what a release of sp for app a would run with now.
func ConfigSnapshot(ctx context.Context, tx store.Tx, a store.App, sp *spec.App) (*api.ReleaseConfig, error) {
	snap := &api.ReleaseConfig{Env: Env(a)}
	latest, err := tx.LatestConfigVersion(ctx, a.Name, snap.Env)
	switch {
	case err == nil:
		snap.Version = latest.Version
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("config of %s: %w", a.Name, err)
	}
	names := SecretNames(sp)
	if len(names) == 0 {
		return snap, nil
	}
	rows, err := tx.ListSecrets(ctx, a.Name)
	if err != nil {
		return nil, fmt.Errorf("secrets of %s: %w", a.Name, err)
	}
	have := make(map[string]int64, len(rows))
	for _, r := range rows {
		have[r.Name] = r.Version
	}
	snap.Secrets = make(map[string]int64, len(names))
	for _, n := range names {
		snap.Secrets[n] = have[n]
	}
	return snap, nil
}

// SameConfig compares snapshots; a release from before config sets (nil)
// equals an empty snapshot.
func SameConfig(a, b *api.ReleaseConfig) bool {
	norm := func(c *api.ReleaseConfig) api.ReleaseConfig {
		if c == nil {
			return api.ReleaseConfig{Env: api.DefaultConfigEnv}
		}
		return *c
	}
	x, y := norm(a), norm(b)
	return x.Env == y.Env && x.Version == y.Version && maps.Equal(x.Secrets, y.Secrets)
}
