package deploy

import (
	"testing"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// configRelease stores config set version v with files, and a release of
// a recording it (reloadOf as release.ReloadOf decided), as the target.
func (e *testEnv) configRelease(a *spec.App, v int, files map[string]string, reloadOf int) int {
	e.t.Helper()
	cfg := &api.ReleaseConfig{Env: api.DefaultConfigEnv, Version: v, ReloadOf: reloadOf}
	return e.createReleaseWith(a, "config", 0, cfg, func(tx store.Tx) error {
		return tx.CreateConfigVersion(e.ctx, store.ConfigVersion{App: a.Name, Env: api.DefaultConfigEnv, Version: v, Files: files, CreatedAt: e.clock.Now()})
	})
}

func (e *testEnv) appliedWorkload(id string) runtime.Workload {
	e.t.Helper()
	e.rt.mu.Lock()
	defer e.rt.mu.Unlock()
	w, ok := e.rt.applied[id]
	if !ok {
		e.t.Fatalf("workload %s never applied", id)
	}
	return w
}

// A release that reloads release 1's instances applies release 1's
// workload again with its own files (no new workload, nothing deleted)
// and becomes the serving release. One that then fails (its instances
// crash on the new config) returns the workload to the serving release's
// files, again without replacing it.
func TestLiveReloadKeepsWorkloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	api2 := svc(2)
	api2.Config = &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGHUP"}
	sp := appSpec("shop", map[string]*spec.Service{"api": api2})
	e.configRelease(sp, 1, map[string]string{"app.conf": "one"}, 0)
	e.settle("shop")
	if w := e.appliedWorkload("shop-api-r1"); w.Files["app.conf"] != "one" || w.Release != 1 || w.InstancesOf != 0 {
		t.Fatalf("release 1's workload: %+v", w)
	}

	e.configRelease(sp, 2, map[string]string{"app.conf": "two"}, 1)
	wantCalls(t, "reload", e.pass("shop"), "apply shop-api-r1 x2")
	w := e.appliedWorkload("shop-api-r1")
	if w.Files["app.conf"] != "two" || w.Release != 2 || w.InstancesOf != 1 || w.Env[spec.EnvRelease] != "1" {
		t.Fatalf("the reloaded workload: release %d, instances of %d, files %v, BERTH_RELEASE %s", w.Release, w.InstancesOf, w.Files, w.Env[spec.EnvRelease])
	}
	e.settle("shop")
	if got := e.states("shop"); got[0] != api.ReleaseSuperseded || got[1] != api.ReleaseDeployed {
		t.Fatalf("states %v, want release 2 deployed", got)
	}
	if a := e.app("shop"); a.Status.Serving != 2 {
		t.Fatalf("serving %d, want 2", a.Status.Serving)
	}

	e.configRelease(sp, 3, map[string]string{"app.conf": "broken"}, 1)
	wantCalls(t, "reload again", e.pass("shop"), "apply shop-api-r1 x2")
	e.rt.edit("shop-api-r1", func(i int, in *runtime.Instance) {
		if i == 0 {
			in.State, in.Ready, in.Restarts = runtime.StateBackoff, false, 3
			in.LastExit = &runtime.Exit{Code: 2, LogTail: []string{"bad config"}}
		}
	})
	wantCalls(t, "fail and reload the serving config", e.pass("shop"), "apply shop-api-r1 x2")
	if rel := e.release("shop", 3); rel.State != api.ReleaseFailed || rel.Reason != ReasonCrashLoop {
		t.Fatalf("release 3: %s %s", rel.State, rel.Reason)
	}
	if w := e.appliedWorkload("shop-api-r1"); w.Files["app.conf"] != "two" || w.Release != 2 {
		t.Fatalf("after the failed reload the workload runs release %d with %v, want release 2's files", w.Release, w.Files)
	}
}
