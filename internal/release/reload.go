package release

import (
	"context"
	"fmt"
	"maps"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// A config change made while the target release runs, fully rolled out,
// can reach its instances without replacing them when every service
// declares `config: {reload: signal}`: the runtime rewrites the config
// files where the instances read them and signals them. The change is
// still a new release (history says which config version runs when), but
// one whose instances are those of the release it reloads: its
// ReleaseConfig.ReloadOf names that release (the first one of a chain of
// reloads, whose number the workloads carry in their IDs).
//
// Anything an instance takes as an environment variable cannot change
// under a running process: a changed config entry or secret version rolls
// as before.

// ReloadOf is the release whose running instances a new release of target
// with configuration snap would reload live, or 0 when it must roll out
// new instances. a is the app, sp target's spec.
func ReloadOf(ctx context.Context, tx store.Tx, a store.App, target store.Release, sp *spec.App, snap *api.ReleaseConfig) (int, error) {
	old := target.Config
	switch {
	case target.State != api.ReleaseDeployed || a.Canary != nil:
		return 0, nil // instances of several releases may run: roll
	case old == nil || snap == nil || old.Env != snap.Env || !maps.Equal(old.Secrets, snap.Secrets):
		return 0, nil
	case !allReloadLive(sp):
		return 0, nil
	}
	before, err := configEntries(ctx, tx, a.Name, old)
	if err != nil {
		return 0, err
	}
	after, err := configEntries(ctx, tx, a.Name, snap)
	if err != nil {
		return 0, err
	}
	if !maps.Equal(before, after) {
		return 0, nil
	}
	if old.ReloadOf != 0 {
		return old.ReloadOf, nil
	}
	return target.Number, nil
}

func allReloadLive(sp *spec.App) bool {
	if sp == nil || len(sp.Services) == 0 {
		return false
	}
	for _, s := range sp.Services {
		if !s.ReloadsLive() {
			return false
		}
	}
	return true
}

// configEntries are the entries (environment variables) of the config set
// version c records; none for version 0.
func configEntries(ctx context.Context, tx store.Tx, app string, c *api.ReleaseConfig) (map[string]string, error) {
	if c.Version == 0 {
		return nil, nil
	}
	v, err := tx.GetConfigVersion(ctx, app, c.Env, c.Version)
	if err != nil {
		return nil, fmt.Errorf("config version %d of %s: %w", c.Version, app, err)
	}
	if len(v.Entries) == 0 {
		return nil, nil
	}
	return v.Entries, nil
}
