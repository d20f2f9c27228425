package release

import (
	"bytes"
	"context"
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
// berth.yaml is part of the source archive `berth apply` uploads, so the
// archives' digests differ too; the archives are compared entry by entry
// with the spec file left out (CodeComparer), and the new release keeps
// the target's builds (artifacts) as well.
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
// two releases would run), and the same configuration. The source archive
// must hold the same code as the target's (code compares them; nil: the
// same digest only).
func KeepsInstancesOf(ctx context.Context, code CodeComparer, a store.App, target store.Release, canonical []byte, source string, snap *api.ReleaseConfig) (int, error) {
	if !runOnlyChange(a, target, canonical) || !SameConfig(target.Config, snap) {
		return 0, nil
	}
	if target.Source != source {
		if code == nil {
			return 0, nil
		}
		same, err := code.SameCode(ctx, target.Source, source)
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err != nil || !same {
			// An archive that cannot be read (gone, damaged) is no
			// reason to refuse the release: it rolls out as before.
			return 0, nil
		}
	}
	if c := target.Config; c != nil && c.ReloadOf != 0 {
		return c.ReloadOf, nil
	}
	return target.Number, nil
}

// runOnlyChange reports what KeepsInstancesOf asks of the app and its
// target before the configuration and the code: the target fully rolled
// out, no canary, and a spec that differs only in what runs read.
// Precompared asks the same, so it compares only what Apply will ask.
func runOnlyChange(a store.App, target store.Release, canonical []byte) bool {
	return target.State == api.ReleaseDeployed && a.Canary == nil && sameButRunOnly(target.Spec, canonical)
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
