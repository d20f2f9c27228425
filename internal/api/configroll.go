package api

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

// releaseEnv is the config set environment a release reads. Apps do not
// run in named environments yet; when they do, this is the app's.
func releaseEnv(store.App) string { return api.DefaultConfigEnv }

// secretNames are the secrets the services of sp name, sorted, once each.
func secretNames(sp *spec.App) []string {
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

// specOf decodes a stored release spec.
func specOf(rel store.Release) (*spec.App, error) {
	var a spec.App
	if err := json.Unmarshal(rel.Spec, &a); err != nil {
		return nil, fmt.Errorf("release %s/%d: decode spec: %w", rel.App, rel.Number, err)
	}
	return &a, nil
}

// configSnapshot is what a release of sp for app a would run with now.
func configSnapshot(ctx context.Context, tx store.Tx, a store.App, sp *spec.App) (*api.ReleaseConfig, error) {
	snap := &api.ReleaseConfig{Env: releaseEnv(a)}
	latest, err := tx.LatestConfigVersion(ctx, a.Name, snap.Env)
	switch {
	case err == nil:
		snap.Version = latest.Version
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("config of %s: %w", a.Name, err)
	}
	names := secretNames(sp)
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

// sameConfig compares snapshots; a release from before config sets (nil)
// equals an empty snapshot.
func sameConfig(a, b *api.ReleaseConfig) bool {
	norm := func(c *api.ReleaseConfig) api.ReleaseConfig {
		if c == nil {
			return api.ReleaseConfig{Env: api.DefaultConfigEnv}
		}
		return *c
	}
	x, y := norm(a), norm(b)
	return x.Env == y.Env && x.Version == y.Version && maps.Equal(x.Secrets, y.Secrets)
}

// rollConfig creates a new release of a's target when the configuration it
// would run with differs from the target's snapshot. It returns the new
// release's number, 0 when nothing was created.
func (s *server) rollConfig(ctx context.Context, tx store.Tx, a store.App, cause string) (int, error) {
	if a.TargetRelease == 0 {
		return 0, nil
	}
	target, err := tx.GetRelease(ctx, a.Name, a.TargetRelease)
	if err != nil {
		return 0, fmt.Errorf("get release %s/%d: %w", a.Name, a.TargetRelease, err)
	}
	sp, err := specOf(target)
	if err != nil {
		return 0, err
	}
	snap, err := configSnapshot(ctx, tx, a, sp)
	if err != nil {
		return 0, err
	}
	if sameConfig(target.Config, snap) {
		return 0, nil
	}
	now := s.Now().UTC()
	rel := store.Release{
		App: a.Name, Number: a.LatestRelease + 1, Spec: target.Spec, SpecHash: target.SpecHash,
		Source: target.Source, Artifacts: maps.Clone(target.Artifacts), Cause: cause,
		Config: snap, State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
	}
	data := appliedData{Cause: cause, SpecHash: rel.SpecHash, Source: rel.Source}
	if _, err := s.createRelease(ctx, tx, a, false, rel, data); err != nil {
		return 0, err
	}
	return rel.Number, nil
}
