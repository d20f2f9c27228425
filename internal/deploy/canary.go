package deploy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Canary releases.
//
// A target release with strategy canary (or one a user started a canary of
// with `berth rollout --canary`) does not replace the serving release: it
// runs beside it. The serving ("stable") release keeps its full replicas;
// each service of the canary runs max(1, ceil(desired × weight / 100))
// instances, and the route feed gives the canary that weight of the
// traffic. The app's store.Canary is the canary's desired state: the API
// writes it when a user starts, moves, promotes or aborts a canary, and
// this file when the canary starts, when a step's pause is over, and when
// it ends.
//
// Steps advance once their pause (counted from when the step started) is
// over and the canary's instances are all ready; a step without a pause
// waits for a hand. After the last step the canary is promoted: rolled to
// full replicas, then marked deployed, after which the ordinary steady
// state (planExact) stops the stable release. A canary that crash-loops,
// or whose instances do not become ready within the progress deadline of
// a step, fails like a rolling release and is thereby aborted: traffic and
// instances go back to the stable release. Abort by hand is the API
// marking the release failed (Reason Aborted), which ends it the same way.

// Condition reasons of a canary.
const (
	reasonCanary    = "Canary"
	reasonPromoting = "Promoting"
)

// canary runs the pass of an app whose target release is a canary, and
// clears a canary record that no longer has a canary to run. handled means
// the pass is complete (res and err are its result). Otherwise the canary
// ended in this pass, or there is none: serving, eff and rollout are
// updated (failed: the stable release is effective again; promoted: the
// canary release serves) and the ordinary pass goes on with them.
func (p *pass) canary(ctx context.Context, target *release, serving, eff **release, rollout *bool, obs observed) (res Result, handled bool, err error) {
	if !*rollout || !canaryWanted(p.app.Canary, target, *serving) {
		if p.app.Canary != nil {
			p.log.Info("clearing a canary record with no canary to run", "release", p.app.Canary.Release)
			return Result{}, false, p.saveCanary(ctx, nil)
		}
		return Result{}, false, nil
	}
	stable := *serving
	c := p.app.Canary
	if c == nil || c.Release != target.number() {
		c = startCanary(target, p.now)
		p.log.Info("canary started", "release", target.number(), "stable", stable.number(), "weight", c.Weight)
		if err := p.saveCanary(ctx, c); err != nil {
			return Result{}, false, err
		}
	}

	if reason, msg, failed := p.canaryFailure(target, c, obs); failed {
		p.log.Warn("canary release failed; aborting it", "release", target.number(), "reason", reason, "message", p.masker(ctx).Mask(msg))
		if err := p.fail(ctx, target, reason, msg); err != nil {
			return Result{}, false, err
		}
		if err := p.saveCanary(ctx, nil); err != nil {
			return Result{}, false, err
		}
		*eff, *rollout = stable, false
		return Result{}, false, readable(p.app.Name, stable)
	}
	if c.Promote && fullyReady(target, obs) {
		if err := p.markDeployed(ctx, target); err != nil {
			return Result{}, false, err
		}
		if err := p.saveCanary(ctx, nil); err != nil {
			return Result{}, false, err
		}
		p.log.Info("canary promoted", "release", target.number())
		*serving, *rollout = target, false
		return Result{}, false, nil
	}
	if next, ok := nextStep(target, c, p.now); ok && canaryReady(target, c, obs) {
		p.log.Info("canary step", "release", target.number(), "weight", next.Weight, "promote", next.Promote)
		if err := p.saveCanary(ctx, next); err != nil {
			return Result{}, false, err
		}
		c = next
	}

	pl := planCanary(p.app.Name, target, stable, c, obs)
	p.refreshEnv(ctx, &pl, obs)
	moved, err := p.setProxy(ctx, target, obs, pl)
	if err != nil {
		return Result{}, true, err
	}
	errs := p.execute(ctx, p.drain(pl, obs))
	if err := p.writeStatus(ctx, p.canaryStatus(ctx, target, stable, c, obs, pl)); err != nil {
		return Result{}, true, err
	}
	switch at := nextStepAt(target, c); {
	case len(pl.steps) > 0 || moved || !canaryReady(target, c, obs):
		res.RequeueAfter = p.r.opts.Requeue
	case !at.IsZero():
		// The pass that takes the step: nothing else needs this app until
		// then (runtime events and API calls wake it sooner).
		res.RequeueAfter = max(at.Sub(p.now), p.r.opts.Requeue)
	}
	if len(errs) > 0 {
		return res, true, fmt.Errorf("deploy: %s: %w", p.app.Name, errors.Join(errs...))
	}
	return res, true, nil
}

// canaryWanted reports whether target rolls out as a canary beside
// serving: it has the canary strategy, or a canary of it was started by
// hand. Without a serving release there is nothing to run beside, and the
// release rolls out as usual. So does a rollback: it is how a user gets
// back to a known release quickly, not a release to try out (its copied
// canary strategy is ignored; a canary of it can still be started by
// hand).
func canaryWanted(c *store.Canary, target, serving *release) bool {
	if target == nil || target.spec == nil || serving == nil || serving.spec == nil || serving == target {
		return false
	}
	if target.reloads() {
		// It has no instances of its own to run beside the serving ones.
		return false
	}
	if c != nil && c.Release == target.number() {
		return true
	}
	return target.strategy().Type == spec.StrategyCanary && target.rec.Cause != causeRollback
}

// causeRollback is the Cause of a release made by rollback.
const causeRollback = "rollback"

// startCanary is the canary state of a release whose canary strategy just
// started: its first step, or weight 0 by hand when it has no steps.
func startCanary(target *release, now time.Time) *store.Canary {
	c := &store.Canary{Release: target.number(), StepStartedAt: now}
	if steps := target.strategy().Steps; len(steps) > 0 {
		c.Weight = steps[0].Weight
	} else {
		c.Manual = true
	}
	return c
}

// currentStep returns the canary's current strategy step, if it follows them.
func currentStep(target *release, c *store.Canary) (spec.CanaryStep, bool) {
	steps := target.strategy().Steps
	if c.Manual || c.Promote || c.Step < 0 || c.Step >= len(steps) {
		return spec.CanaryStep{}, false
	}
	return steps[c.Step], true
}

// nextStepAt is when the current step's pause is over, zero when the
// step waits for a hand (or the canary does not follow steps).
func nextStepAt(target *release, c *store.Canary) time.Time {
	st, ok := currentStep(target, c)
	if !ok || st.Pause == nil {
		return time.Time{}
	}
	return c.StepStartedAt.Add(st.Pause.D())
}

// nextStep returns the state after the current step, once its pause is
// over: the next step, or the promotion after the last one.
func nextStep(target *release, c *store.Canary, now time.Time) (*store.Canary, bool) {
	at := nextStepAt(target, c)
	if at.IsZero() || now.Before(at) {
		return nil, false
	}
	next := *c
	next.StepStartedAt = now
	if steps := target.strategy().Steps; c.Step+1 < len(steps) {
		next.Step++
		next.Weight = steps[next.Step].Weight
	} else {
		next.Promote = true
	}
	return &next, true
}

// canaryReplicas is how many instances a service of desired replicas runs
// as a canary: its weight's share, rounded up, at least one so that the
// canary can be tried (X-Berth-Track: canary) even at weight 0; all of
// them once it is being promoted.
func canaryReplicas(desired int, c *store.Canary) int {
	switch {
	case desired <= 0:
		return 0
	case c.Promote:
		return desired
	}
	return max(1, (desired*c.Weight+99)/100)
}

// canaryReady reports whether every service of the canary runs its
// canary instances, all ready.
func canaryReady(target *release, c *store.Canary, obs observed) bool {
	for _, svc := range target.order {
		want := canaryReplicas(target.replicas(svc), c)
		if want == 0 {
			continue
		}
		if w := obs.at(svc, target.number()); w == nil || w.Replicas != want || w.Ready < want {
			return false
		}
	}
	return true
}

// fullyReady reports whether every service of rel runs all its desired
// instances, ready (other releases may still run beside it).
func fullyReady(rel *release, obs observed) bool {
	for _, svc := range rel.order {
		want := rel.replicas(svc)
		if want == 0 {
			continue
		}
		if w := obs.at(svc, rel.number()); w == nil || w.Replicas != want || w.Ready < want {
			return false
		}
	}
	return true
}

// planCanary keeps the stable release at full replicas, brings each
// service of the canary to its share, and removes everything else (the
// instances of releases abandoned before this one).
func planCanary(app string, target, stable *release, c *store.Canary, obs observed) plan {
	p := plan{blocked: map[string]string{}}
	for _, w := range obs.all {
		keep := (w.ID == stable.workloadID(app, w.Service) && stable.service(w.Service) != nil) ||
			(w.ID == target.workloadID(app, w.Service) && target.service(w.Service) != nil)
		if !keep {
			p.remove(w)
		}
	}
	planNew(app, stable, obs, &p)
	for _, svc := range target.order {
		want := canaryReplicas(target.replicas(svc), c)
		cur := obs.at(svc, target.number())
		switch {
		case want == 0:
			if cur != nil {
				p.remove(cur)
			}
		case cur == nil:
			if dep, ok := canaryDepsReady(target, svc, c, obs); !ok {
				p.blocked[svc] = dep
				continue
			}
			p.apply(target.workloadID(app, svc), target.number(), svc, want)
		case cur.Replicas != want:
			p.apply(target.workloadID(app, svc), target.number(), svc, want)
		}
	}
	return p
}

// canaryDepsReady is depsReady for canary instances: a dependency counts
// as ready when its own canary instances are.
func canaryDepsReady(target *release, svc string, c *store.Canary, obs observed) (string, bool) {
	s := target.service(svc)
	if s == nil {
		return "", true
	}
	for _, dep := range s.DependsOn {
		want := canaryReplicas(target.replicas(dep), c)
		if want == 0 {
			continue
		}
		if w := obs.at(dep, target.number()); w == nil || w.Ready < want {
			return dep, false
		}
	}
	return "", true
}

// canaryFailure decides whether the canary failed: an instance
// crash-loops (the rolling rollout's own detection), or its instances are
// not all ready a progress deadline after the step (or the promotion)
// started. The deadline of a rolling rollout counts from the rollout's
// start and would end a canary in the middle of its pauses.
func (p *pass) canaryFailure(target *release, c *store.Canary, obs observed) (reason, msg string, failed bool) {
	if reason, msg, failed := p.detectFailure(target, obs); failed && reason != ReasonProgressDeadline {
		return reason, msg, true
	}
	start := p.rolloutStart(target)
	if c.StepStartedAt.After(start) {
		start = c.StepStartedAt
	}
	deadline := target.strategy().ProgressDeadline
	ready := canaryReady(target, c, obs)
	if c.Promote {
		ready = fullyReady(target, obs)
	}
	if ready || p.now.Sub(start) <= deadline.D() {
		return "", "", false
	}
	return ReasonProgressDeadline, fmt.Sprintf("canary release %d: %s after %s", target.number(), canaryWaiting(target, c, obs), deadline), true
}

// canaryWaiting says which canary instances are not ready yet.
func canaryWaiting(target *release, c *store.Canary, obs observed) string {
	var parts []string
	for _, svc := range target.order {
		want := canaryReplicas(target.replicas(svc), c)
		if want == 0 {
			continue
		}
		ready := 0
		if w := obs.at(svc, target.number()); w != nil {
			ready = w.Ready
		}
		if ready < want {
			parts = append(parts, fmt.Sprintf("%s %d/%d ready", svc, ready, want))
		}
	}
	if len(parts) == 0 {
		return "all ready"
	}
	return strings.Join(parts, ", ")
}

// canaryStatus is the app's status while a canary runs: the stable
// release's services and availability, every instance of both releases,
// the canary's weights, and a Progressing condition saying where it is.
func (p *pass) canaryStatus(ctx context.Context, target, stable *release, c *store.Canary, obs observed, pl plan) api.AppStatus {
	st := p.status(statusIn{ctx: ctx, target: target, eff: stable, serving: stable, obs: obs, pl: pl, rollout: true})
	cs := &api.CanaryStatus{
		Release: c.Release, Stable: stable.number(), Weight: c.Weight,
		Steps: len(target.strategy().Steps), NextStepAt: nextStepAt(target, c),
		Manual: c.Manual, Promoting: c.Promote,
	}
	if _, ok := currentStep(target, c); ok {
		cs.Step = c.Step + 1
	}
	cs.Ready = canaryReady(target, c, obs)
	if c.Promote {
		cs.Ready = fullyReady(target, obs)
	}
	st.Canary = cs

	msg := fmt.Sprintf("canary release %d at %d %%", c.Release, c.Weight)
	reason := reasonCanary
	switch {
	case c.Promote:
		reason = reasonPromoting
		msg = fmt.Sprintf("promoting canary release %d: %s", c.Release, promoteWaiting(target, obs))
	case !canaryReady(target, c, obs):
		msg += ": " + canaryWaiting(target, c, obs)
		for svc, dep := range pl.blocked {
			if target.service(svc) != nil {
				msg += fmt.Sprintf(" (%s waiting for %s)", svc, dep)
				break
			}
		}
	case cs.Step > 0 && !cs.NextStepAt.IsZero():
		msg += fmt.Sprintf(" (step %d of %d); next step at %s", cs.Step, cs.Steps, cs.NextStepAt.UTC().Format(time.RFC3339))
	case cs.Step > 0:
		msg += fmt.Sprintf(" (step %d of %d); waiting for berth rollout --weight, promote or abort", cs.Step, cs.Steps)
	default:
		msg += "; moved by hand: berth rollout --weight, promote or abort"
	}
	st.Message = msg
	for i := range st.Conditions {
		if st.Conditions[i].Type == api.ConditionProgressing {
			st.Conditions[i].Reason, st.Conditions[i].Message = reason, msg
		}
	}
	for i := range st.Services {
		ss := &st.Services[i]
		for j := range ss.Conditions {
			if ss.Conditions[j].Type != api.ConditionProgressing || target.service(ss.Name) == nil {
				continue
			}
			want := canaryReplicas(target.replicas(ss.Name), c)
			ready := 0
			if w := obs.at(ss.Name, target.number()); w != nil {
				ready = w.Ready
			}
			ss.Conditions[j].Status, ss.Conditions[j].Reason = "True", reason
			ss.Conditions[j].Message = fmt.Sprintf("canary release %d: %d/%d ready at %d %%", c.Release, ready, want, c.Weight)
		}
		for _, prev := range p.app.Status.Services {
			if prev.Name == ss.Name {
				keepTransitions(prev.Conditions, ss.Conditions)
			}
		}
	}
	return st
}

// promoteWaiting says which services of a promoted canary are not fully
// ready yet.
func promoteWaiting(target *release, obs observed) string {
	var parts []string
	for _, svc := range target.order {
		want := target.replicas(svc)
		ready := 0
		if w := obs.at(svc, target.number()); w != nil {
			ready = w.Ready
		}
		parts = append(parts, fmt.Sprintf("%s %d/%d ready", svc, ready, want))
	}
	return strings.Join(parts, ", ")
}

// saveCanary stores the app's canary state (nil clears it) with an
// app.status event, which also tells the route feed to recompile.
func (p *pass) saveCanary(ctx context.Context, c *store.Canary) error {
	a := p.app
	a.Canary = c
	a.UpdatedAt = p.now
	v, err := writeApp(ctx, p.r.store, a, p.now)
	if err != nil {
		return err
	}
	a.Version = v
	p.app = a
	return nil
}
