package release_test

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// ReloadOf decides between a live reload and a rollout: only a files
// change, of a fully rolled out target, whose services all declare
// reload: signal, is taken live.
func TestReloadOf(t *testing.T) {
	t.Parallel()
	db := openStore(t)
	ctx := t.Context()
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := db.CreateApp(ctx, store.App{Name: "shop", Team: "team_a", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []store.ConfigVersion{
		{Version: 1, Entries: map[string]string{"LEVEL": "info"}, Files: map[string]string{"app.conf": "one"}},
		{Version: 2, Entries: map[string]string{"LEVEL": "info"}, Files: map[string]string{"app.conf": "two"}},
		{Version: 3, Entries: map[string]string{"LEVEL": "debug"}, Files: map[string]string{"app.conf": "two"}},
	} {
		v.App, v.Env, v.CreatedAt = "shop", api.DefaultConfigEnv, now
		if err := db.CreateConfigVersion(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	live := &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGHUP"}
	bothLive := &spec.App{Name: "shop", Services: map[string]*spec.Service{"web": {Config: live}, "api": {Config: live}}}
	oneLive := &spec.App{Name: "shop", Services: map[string]*spec.Service{"web": {Config: live}, "api": {}}}
	cfg := func(v int, reloadOf int, secrets map[string]int64) *api.ReleaseConfig {
		return &api.ReleaseConfig{Env: api.DefaultConfigEnv, Version: v, ReloadOf: reloadOf, Secrets: secrets}
	}
	tests := []struct {
		desc   string
		state  string
		canary *store.Canary
		sp     *spec.App
		old    *api.ReleaseConfig
		next   *api.ReleaseConfig
		want   int
	}{
		{desc: "files only, every service live", state: api.ReleaseDeployed, sp: bothLive, old: cfg(1, 0, nil), next: cfg(2, 0, nil), want: 7},
		{desc: "a chain of reloads keeps the first release", state: api.ReleaseDeployed, sp: bothLive, old: cfg(1, 4, nil), next: cfg(2, 0, nil), want: 4},
		{desc: "an entry changed", state: api.ReleaseDeployed, sp: bothLive, old: cfg(2, 0, nil), next: cfg(3, 0, nil)},
		{desc: "a service without the declaration", state: api.ReleaseDeployed, sp: oneLive, old: cfg(1, 0, nil), next: cfg(2, 0, nil)},
		{desc: "a secret changed", state: api.ReleaseDeployed, sp: bothLive, old: cfg(1, 0, map[string]int64{"DB": 1}), next: cfg(2, 0, map[string]int64{"DB": 2})},
		{desc: "the target still rolling out", state: api.ReleaseProgressing, sp: bothLive, old: cfg(1, 0, nil), next: cfg(2, 0, nil)},
		{desc: "a canary running", state: api.ReleaseDeployed, canary: &store.Canary{Release: 7}, sp: bothLive, old: cfg(1, 0, nil), next: cfg(2, 0, nil)},
		{desc: "a release from before config sets", state: api.ReleaseDeployed, sp: bothLive, old: nil, next: cfg(2, 0, nil)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			target := store.Release{App: "shop", Number: 7, State: tt.state, Config: tt.old}
			a := store.App{Name: "shop", Canary: tt.canary}
			var got int
			err := db.InTx(ctx, func(tx store.Tx) error {
				var err error
				got, err = release.ReloadOf(ctx, tx, a, target, tt.sp, tt.next)
				return err
			})
			if err != nil || got != tt.want {
				t.Errorf("ReloadOf = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
