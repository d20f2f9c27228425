package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Condition reasons.
const (
	reasonBuilding     = "Building"
	reasonRollingOut   = "RollingOut"
	reasonComplete     = "Complete"
	reasonRolloutFail  = "RolloutFailed"
	reasonNoRelease    = "NoRelease"
	reasonMinAvailable = "MinimumReplicasAvailable"
	reasonNoReady      = "NoReadyInstances"
	reasonNotReady     = "InstancesNotReady"
	reasonHealthy      = "AllInstancesReady"
	reasonDeleting     = "Deleting"
)

type statusIn struct {
	ctx                  context.Context // for the runtime's addresses
	target, eff, serving *release
	obs                  observed
	pl                   plan
	rollout              bool
}

// status derives the app's status from what the pass saw and decided.
func (p *pass) status(in statusIn) api.AppStatus {
	st := api.AppStatus{Release: p.app.TargetRelease, Serving: in.serving.number()}
	st.Services = p.services(in)

	degraded := ""
	if !in.rollout && in.eff != nil {
		degraded = p.degradedMessage(in.eff, in.obs)
	}
	progress := ""
	switch {
	case in.target == nil && p.app.TargetRelease == 0:
		st.Phase, st.Message = api.PhasePending, "no release yet"
	case in.target == nil:
		st.Phase, st.Message = api.PhasePending, fmt.Sprintf("release %d not found", p.app.TargetRelease)
	case in.target.rec.State == api.ReleaseFailed:
		st.Phase = api.PhaseFailed
		st.Message = fmt.Sprintf("release %d failed: %s", in.target.number(), in.target.rec.Message)
	case in.rollout:
		progress = p.progressMessage(in)
		st.Phase, st.Message = api.PhaseProgressing, progress
	case degraded != "":
		st.Phase, st.Message = api.PhaseDegraded, degraded
	default:
		st.Phase = api.PhaseRunning
	}

	cond := func(typ string, ok bool, reason, msg string) api.Condition {
		s := "False"
		if ok {
			s = "True"
		}
		return api.Condition{Type: typ, Status: s, Reason: reason, Message: msg, LastTransitionTime: p.now}
	}
	var progressing api.Condition
	switch {
	case in.rollout:
		progressing = cond(api.ConditionProgressing, true, reasonRollingOut, progress)
	case in.target == nil:
		progressing = cond(api.ConditionProgressing, false, reasonNoRelease, "")
	case in.target.rec.State == api.ReleaseFailed:
		progressing = cond(api.ConditionProgressing, false, reasonRolloutFail, "")
	default:
		progressing = cond(api.ConditionProgressing, false, reasonComplete, "")
	}
	availMsg := p.unavailableMessage(in)
	available := cond(api.ConditionAvailable, availMsg == "", reasonMinAvailable, "")
	if availMsg != "" {
		available.Reason, available.Message = reasonNoReady, availMsg
		if in.eff == nil {
			available.Reason = reasonNoRelease
		}
	}
	degradedCond := cond(api.ConditionDegraded, false, reasonHealthy, "")
	if degraded != "" {
		degradedCond = cond(api.ConditionDegraded, true, reasonNotReady, degraded)
	}
	failedCond := cond(api.ConditionFailed, false, "", "")
	if in.target != nil && in.target.rec.State == api.ReleaseFailed {
		failedCond = cond(api.ConditionFailed, true, in.target.rec.Reason, in.target.rec.Message)
	}
	st.Conditions = []api.Condition{progressing, available, degradedCond, failedCond}
	return st
}

// buildingStatus is written before a (possibly long) build starts, or
// while it waits for a build slot.
func (p *pass) buildingStatus(target *release, msg string) api.AppStatus {
	st := p.app.Status
	st.Release = target.number()
	st.Phase = api.PhaseProgressing
	st.Message = msg
	conds := []api.Condition{{
		Type: api.ConditionProgressing, Status: "True", Reason: reasonBuilding,
		Message: st.Message, LastTransitionTime: p.now,
	}}
	for _, c := range st.Conditions {
		if c.Type != api.ConditionProgressing {
			conds = append(conds, c)
		}
	}
	st.Conditions = conds
	return st
}

// services reports each service of the effective release, and any other
// service that still has workloads.
func (p *pass) services(in statusIn) []api.ServiceStatus {
	specRel := in.eff
	if specRel == nil {
		specRel = in.target
	}
	names := map[string]bool{}
	for _, n := range specRel.serviceNames() {
		names[n] = true
	}
	for n := range in.obs.bySvc {
		names[n] = true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)

	var out []api.ServiceStatus
	for _, svc := range sorted {
		ss := api.ServiceStatus{Name: svc}
		if in.eff != nil {
			ss.Desired = in.eff.replicas(svc)
		}
		// The address the app's own instances reach the service at.
		if addr, err := p.dependencyAddr(in.ctx, specRel, svc); err == nil {
			ss.Address = addr
		}
		// The release shown is the effective one once it has a ready
		// instance, else the newest release that has one.
		shown := specRel.number()
		if w := in.obs.at(svc, shown); w == nil || w.Ready == 0 {
			for _, w := range in.obs.bySvc[svc] {
				if w.Ready > 0 {
					shown = w.Release
				}
			}
		}
		ss.Release = shown
		for _, w := range in.obs.bySvc[svc] {
			if w.Release == shown {
				ss.Ready = w.Ready
			}
			if w.Limits != "" && (ss.Limits == "" || w.Release == specRel.number()) {
				ss.Limits = w.Limits
			}
			if w.Autoscale != "" && (ss.Autoscale == "" || w.Release == specRel.number()) {
				ss.Autoscale = w.Autoscale
			}
			for _, inst := range w.Instances {
				ss.Instances = append(ss.Instances, toAPIInstance(w.Release, inst))
			}
		}
		ss.Conditions = p.serviceConditions(in, ss)
		for _, prev := range p.app.Status.Services {
			if prev.Name == svc {
				keepTransitions(prev.Conditions, ss.Conditions)
			}
		}
		out = append(out, ss)
	}
	return out
}

func toAPIInstance(rel int, in runtime.Instance) api.Instance {
	out := api.Instance{
		ID: in.ID, Release: rel, State: string(in.State), Ready: in.Ready,
		PID: in.PID, Port: in.Port, Host: in.Host, Restarts: in.Restarts,
		Message: in.Message,
	}
	if !in.StartedAt.IsZero() {
		out.StartedAt = in.StartedAt.UTC()
	}
	if e := in.LastExit; e != nil {
		out.LastExit = &api.Exit{Code: e.Code, Signal: e.Signal, At: e.At.UTC(), LogTail: e.LogTail}
	}
	return out
}

// progressMessage says what a rollout waits for, per unfinished service.
func (p *pass) progressMessage(in statusIn) string {
	t := in.target
	var parts []string
	for _, svc := range t.order {
		if serviceDone(t, svc, in.obs) {
			continue
		}
		if dep, ok := in.pl.blocked[svc]; ok {
			parts = append(parts, fmt.Sprintf("%s waiting for %s", svc, dep))
			continue
		}
		ready := 0
		w := in.obs.at(svc, t.number())
		if w != nil {
			ready = w.Ready
		} else if e, ok := p.r.applyErrs.Load(t.workloadID(p.app.Name, svc)); ok {
			parts = append(parts, fmt.Sprintf("%s refused by the runtime: %s", svc, e))
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d ready", svc, ready, t.replicas(svc)))
	}
	if len(parts) == 0 {
		parts = append(parts, "stopping old instances")
	}
	return fmt.Sprintf("rolling out release %d: %s", t.number(), strings.Join(parts, ", "))
}

// degradedMessage names the first service of rel with instances missing or
// not ready, with the instance's own explanation.
func (p *pass) degradedMessage(rel *release, obs observed) string {
	for _, svc := range rel.order {
		want := rel.replicas(svc)
		if want == 0 {
			continue
		}
		w := obs.at(svc, rel.number())
		if w == nil {
			return fmt.Sprintf("service %s: 0/%d ready", svc, want)
		}
		inst := firstNotReady(w)
		if w.Ready >= want && inst == nil {
			continue
		}
		msg := fmt.Sprintf("service %s: %d/%d ready", svc, w.Ready, want)
		if inst != nil && inst.Message != "" {
			msg += ": " + inst.Message
		}
		return msg
	}
	return ""
}

// unavailableMessage is "" when every service of the effective release has
// at least one ready instance to take traffic.
func (p *pass) unavailableMessage(in statusIn) string {
	if in.eff == nil {
		return "no release is serving"
	}
	for _, svc := range in.eff.order {
		if in.eff.replicas(svc) == 0 {
			continue
		}
		ready := 0
		for _, w := range in.obs.bySvc[svc] {
			if !in.pl.deleted(w.ID) && !p.failed(w.Release) {
				ready += w.Ready
			}
		}
		if ready == 0 {
			return fmt.Sprintf("service %s has no ready instance", svc)
		}
	}
	return ""
}

// keepTransitions carries LastTransitionTime over from the previous
// conditions whose status did not change.
func keepTransitions(prev, next []api.Condition) {
	for i := range next {
		for _, c := range prev {
			if c.Type == next[i].Type && c.Status == next[i].Status {
				next[i].LastTransitionTime = c.LastTransitionTime
			}
		}
	}
}

// sameStatus compares statuses as stored, ignoring ObservedAt.
func sameStatus(a, b api.AppStatus) bool {
	a.ObservedAt, b.ObservedAt = time.Time{}, time.Time{}
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

// writeStatus stores st, with an app.status event, when it differs from
// what the app record holds.
func (p *pass) writeStatus(ctx context.Context, st api.AppStatus) error {
	st = maskStatus(p.masker(ctx), st)
	keepTransitions(p.app.Status.Conditions, st.Conditions)
	if sameStatus(p.app.Status, st) {
		return nil
	}
	st.ObservedAt = p.now
	a := p.app
	a.Status = st
	a.UpdatedAt = p.now
	v, err := writeApp(ctx, p.r.store, a, p.now)
	if err != nil {
		return err
	}
	a.Version = v
	p.app = a
	return nil
}

// writeApp updates the app record and appends its app.status event in one
// transaction.
func writeApp(ctx context.Context, s store.Store, a store.App, now time.Time) (int64, error) {
	data, err := json.Marshal(a.Status)
	if err != nil {
		return 0, fmt.Errorf("deploy: encode status: %w", err)
	}
	var v int64
	err = s.InTx(ctx, func(tx store.Tx) error {
		var err error
		if v, err = tx.UpdateApp(ctx, a); err != nil {
			return fmt.Errorf("deploy: update app %s: %w", a.Name, err)
		}
		if _, err := tx.AppendEvent(ctx, store.Event{
			Kind: api.EventAppStatus, App: a.Name, Release: a.Status.Release, Time: now, Data: data,
		}); err != nil {
			return fmt.Errorf("deploy: append event: %w", err)
		}
		return nil
	})
	return v, err
}
