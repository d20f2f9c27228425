package deploy

import (
	"encoding/json"
	"testing"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

// A pipeline-only release (release.KeepsInstancesOf) of an app with the
// canary strategy applies release 1's workload again under its own number
// and starts no canary: it has no instances of its own to run beside the
// serving ones. The next real change rolls out as a canary again.
func TestPipelineOnlyReleaseKeepsWorkloads(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := canarySpec(2, "1", spec.CanaryStep{Weight: 50})
	sp.Pipeline = json.RawMessage(`{"steps":[{"name":"test","run":"go test ./..."}]}`)
	e.apply(sp)
	e.settle("shop")

	sp.Pipeline = json.RawMessage(`{"steps":[{"name":"test","run":"go vet ./..."}]}`)
	e.createReleaseWith(sp, "apply", 0, &api.ReleaseConfig{Env: api.DefaultConfigEnv, ReloadOf: 1, PipelineOnly: true}, nil)
	wantCalls(t, "pipeline only", e.pass("shop"), "apply shop-web-r1 x2")
	if w := e.appliedWorkload("shop-web-r1"); w.Release != 2 || w.InstancesOf != 1 || w.Env[spec.EnvRelease] != "1" {
		t.Fatalf("the kept workload: release %d, instances of %d, BERTH_RELEASE %s", w.Release, w.InstancesOf, w.Env[spec.EnvRelease])
	}
	e.settle("shop")
	if a := e.app("shop"); a.Canary != nil || a.Status.Serving != 2 {
		t.Fatalf("canary %+v, serving %d; want no canary and release 2 serving", a.Canary, a.Status.Serving)
	}
	if got := e.states("shop"); got[0] != api.ReleaseSuperseded || got[1] != api.ReleaseDeployed {
		t.Fatalf("states %v, want release 2 deployed", got)
	}

	e.apply(canarySpec(2, "3", spec.CanaryStep{Weight: 50}))
	e.pass("shop")
	if a := e.app("shop"); a.Canary == nil || a.Canary.Release != 3 {
		t.Fatalf("canary %+v; want release 3 as a canary beside the kept instances", a.Canary)
	}
}
