package deploy

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Reasons a release fails, in Release.Reason and the Failed condition.
const (
	ReasonBuildFailed      = "BuildFailed"
	ReasonCrashLoop        = "CrashLoop"
	ReasonProgressDeadline = "ProgressDeadlineExceeded"
	ReasonInvalidSpec      = "InvalidSpec"
	// ReasonReplaced marks a release that was still rolling out when a
	// newer one became the target (it ends superseded, not failed).
	ReasonReplaced = "Replaced"
)

// release is a stored release with its spec decoded.
type release struct {
	rec   store.Release
	spec  *spec.App
	order []string // services, dependencies first
	err   error    // why spec/order could not be read
}

func newRelease(rec store.Release) *release {
	r := &release{rec: rec}
	var a spec.App
	if err := json.Unmarshal(rec.Spec, &a); err != nil {
		r.err = fmt.Errorf("release %d: decode spec: %w", rec.Number, err)
		return r
	}
	// Stored specs carry their defaults; applying them again is a no-op
	// that protects against releases written by older code.
	a.SetDefaults()
	order, err := spec.Order(&a)
	if err != nil {
		r.err = fmt.Errorf("release %d: %w", rec.Number, err)
		return r
	}
	r.spec, r.order = &a, order
	return r
}

func (r *release) number() int {
	if r == nil {
		return 0
	}
	return r.rec.Number
}

// instancesOf is the release whose instances this one runs: its own
// number, or for a release that reloaded a config change live, the
// release that started them (api.ReleaseConfig.ReloadOf). Workload IDs
// carry it, so a live reload keeps the workload and its instances; the
// workload's Release says which release's config they run.
func (r *release) instancesOf() int {
	if c := r.rec.Config; c != nil && c.ReloadOf != 0 {
		return c.ReloadOf
	}
	return r.number()
}

// reloads reports whether the release reloads another's instances
// instead of starting its own.
func (r *release) reloads() bool {
	return r != nil && r.instancesOf() != r.number()
}

// workloadID names the workload that runs service svc of this release.
func (r *release) workloadID(app, svc string) string {
	return WorkloadID(app, svc, r.instancesOf())
}

// active reports whether the release is still to be rolled out.
func (r *release) active() bool {
	return r.rec.State == api.ReleasePending || r.rec.State == api.ReleaseProgressing || r.rec.State == ""
}

func (r *release) service(name string) *spec.Service {
	if r == nil || r.spec == nil {
		return nil
	}
	return r.spec.Services[name]
}

// replicas is the desired instance count of a service in this release (0
// when the release does not have it).
func (r *release) replicas(name string) int {
	s := r.service(name)
	if s == nil {
		return 0
	}
	return max(0, s.ReplicaCount())
}

// serviceNames returns the release's services sorted by name.
func (r *release) serviceNames() []string {
	if r == nil || r.spec == nil {
		return nil
	}
	names := make([]string, 0, len(r.spec.Services))
	for n := range r.spec.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *release) strategy() spec.Strategy {
	st := r.spec.Strategy
	if st.Type == "" {
		st.Type = spec.StrategyRolling
	}
	// A surge of 0 would leave a rolling update unable to start a single
	// new instance while the old ones hold every slot.
	st.MaxSurge = max(1, st.MaxSurge)
	if st.ProgressDeadline <= 0 {
		st.ProgressDeadline = spec.DefaultProgressDeadline
	}
	return st
}

// toAPI is the release as events carry it (without the spec, which is
// large and never changes).
func (r *release) toAPI() api.Release {
	return api.Release{
		App: r.rec.App, Number: r.rec.Number, SpecHash: r.rec.SpecHash,
		Source: r.rec.Source, Artifacts: r.rec.Artifacts, Cause: r.rec.Cause,
		RollbackOf: r.rec.RollbackOf, State: r.rec.State, Reason: r.rec.Reason,
		Message: r.rec.Message, CreatedAt: r.rec.CreatedAt,
	}
}
