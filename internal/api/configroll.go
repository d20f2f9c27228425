package api

import (
	"context"
	"fmt"
	"maps"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// rollConfig creates a new release of a's target when the configuration it
// would run with differs from the target's snapshot: one that reloads the
// running instances live when the services declare it and only files
// changed (release.ReloadOf), else one that rolls out new instances. It
// returns the new release's number, 0 when nothing was created.
func (s *server) rollConfig(ctx context.Context, tx store.Tx, a store.App, cause string) (int, error) {
	if a.TargetRelease == 0 {
		return 0, nil
	}
	target, err := tx.GetRelease(ctx, a.Name, a.TargetRelease)
	if err != nil {
		return 0, fmt.Errorf("get release %s/%d: %w", a.Name, a.TargetRelease, err)
	}
	sp, err := release.SpecOf(target)
	if err != nil {
		return 0, err
	}
	snap, err := release.ConfigSnapshot(ctx, tx, a, sp)
	if err != nil {
		return 0, err
	}
	if release.SameConfig(target.Config, snap) {
		return 0, nil
	}
	if snap.ReloadOf, err = release.ReloadOf(ctx, tx, a, target, sp, snap); err != nil {
		return 0, err
	}
	now := s.Now().UTC()
	rel := store.Release{
		App: a.Name, Number: a.LatestRelease + 1, Spec: target.Spec, SpecHash: target.SpecHash,
		Source: target.Source, Artifacts: maps.Clone(target.Artifacts), Cause: cause,
		Config: snap, State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
	}
	data := release.AppliedData{Cause: cause, SpecHash: rel.SpecHash, Source: rel.Source}
	if _, err := release.Create(ctx, tx, a, false, rel, data); err != nil {
		return 0, err
	}
	return rel.Number, nil
}
