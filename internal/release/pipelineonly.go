package release

import (
	"bytes"
	"encoding/json"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// A change of berth.yaml's pipeline section (or of its source section,
// which says where runs check the code out) changes nothing any instance
// runs: only pipeline runs read those sections. It is still a new release
// (history says which pipeline ran when, and a run records the release
// whose spec it used), but one that keeps the running instances.
//
// It reuses the live reload's mechanism rather than a second one: the
// release's config names the release whose instances it takes over
// (ReleaseConfig.ReloadOf, with PipelineOnly saying why), so the
// reconciler applies the same workload IDs again, and a later config
// reload, pipeline change or rollout follows the chain as it does for
// reloads. The workloads it applies differ from the running ones only in
// their release number, which the runtimes take without touching the
// instances (local: instance.json's hash is updated; Kubernetes: the pod
// template keeps the release that started the pods).

// runOnlySections are the top-level spec fields only pipeline runs read.
var runOnlySections = []string{spec.PipelineSection, "source"}

// KeepsInstancesOf is the release whose running instances a new release
// of app a with spec canonical, source digest source and configuration
// snap can keep, because it differs from the target only in what pipeline
// runs read; 0 when it must roll out as usual. Like a live reload it
// needs the target fully rolled out and no canary running (instances of
// two releases would run), and the same source archive and configuration.
func KeepsInstancesOf(a store.App, target store.Release, canonical []byte, source string, snap *api.ReleaseConfig) int {
	switch {
	case target.State != api.ReleaseDeployed || a.Canary != nil:
		return 0
	case target.Source != source || !SameConfig(target.Config, snap):
		return 0
	case !sameButRunOnly(target.Spec, canonical):
		return 0
	}
	if c := target.Config; c != nil && c.ReloadOf != 0 {
		return c.ReloadOf
	}
	return target.Number
}

// sameButRunOnly reports whether two canonical specs are equal once the
// sections only runs read are left out. A spec that does not decode is
// never equal: the caller then rolls out, which is always safe.
func sameButRunOnly(a, b []byte) bool {
	x, ok := withoutRunOnly(a)
	if !ok {
		return false
	}
	y, ok := withoutRunOnly(b)
	return ok && bytes.Equal(x, y)
}

func withoutRunOnly(canonical []byte) ([]byte, bool) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(canonical, &m); err != nil || m == nil {
		return nil, false
	}
	for _, k := range runOnlySections {
		delete(m, k)
	}
	b, err := json.Marshal(m) // sorted keys, compact values
	return b, err == nil
}
