package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// conflictRetry is how soon an app is looked at again after someone else
// changed its record during a pass.
const conflictRetry = 50 * time.Millisecond

// Reconcile makes the runtime run app's effective target release and writes
// what it observed. It is safe to call at any time, repeatedly and
// concurrently: calls for one app take turns.
func (r *Reconciler) Reconcile(ctx context.Context, app string) (Result, error) {
	defer r.lock(app)()
	a, err := r.store.GetApp(ctx, app)
	if errors.Is(err, store.ErrNotFound) {
		return r.reconcileGone(ctx, app)
	}
	if err != nil {
		return Result{}, fmt.Errorf("deploy: get app %s: %w", app, err)
	}
	if a.Deleting {
		res, err := r.reconcileDelete(ctx, a)
		return conflictOK(res, err)
	}
	recs, err := r.store.ListReleases(ctx, app)
	if err != nil {
		return Result{}, fmt.Errorf("deploy: list releases of %s: %w", app, err)
	}
	p := &pass{r: r, app: a, now: r.now(), log: r.log.With("app", app), releases: make(map[int]*release, len(recs))}
	for _, rec := range recs {
		p.releases[rec.Number] = newRelease(rec)
	}
	return conflictOK(p.run(ctx))
}

// conflictOK turns a version conflict (the API changed the app or a
// release during the pass) into a quick, quiet retry: the next pass reads
// the new state.
func conflictOK(res Result, err error) (Result, error) {
	if errors.Is(err, store.ErrConflict) {
		return Result{RequeueAfter: conflictRetry}, nil
	}
	return res, err
}

// pass is one Reconcile of one app: what it read, and the changes it made.
type pass struct {
	r        *Reconciler
	app      store.App
	releases map[int]*release
	now      time.Time
	log      *slog.Logger
	// configs caches config set versions read in this pass, by release;
	// mask is the masker of the app's secrets, once built (see secrets.go).
	configs map[int]store.ConfigVersion
	mask    *secrets.Masker
	masked  bool
	// addrs caches the runtime's service addresses asked in this pass,
	// by "<release>/<service>" (depaddr.go).
	addrs map[string]string
}

func (p *pass) run(ctx context.Context) (Result, error) {
	if err := p.supersedeAbandoned(ctx); err != nil {
		return Result{}, err
	}
	target := p.releases[p.app.TargetRelease]
	if target != nil && target.active() {
		var err error
		if target.err != nil {
			err = p.fail(ctx, target, ReasonInvalidSpec, target.err.Error())
		} else {
			err = p.prepare(ctx, target)
		}
		if errors.Is(err, errNoBuildSlot) {
			return Result{RequeueAfter: p.r.opts.Requeue}, nil
		}
		if err != nil {
			return Result{}, err
		}
	}

	list, err := p.r.rt.List(ctx, p.app.Name)
	if err != nil {
		return Result{}, fmt.Errorf("deploy: list workloads of %s: %w", p.app.Name, err)
	}
	obs := observe(list)
	serving := p.serving()
	eff := serving
	if target != nil && target.err == nil && target.rec.State != api.ReleaseFailed {
		eff = target
	}
	if err := readable(p.app.Name, eff); err != nil {
		return Result{}, err
	}
	rollout := eff != nil && eff == target && target.active()
	if eff != nil {
		if err := p.ensurePorts(ctx, eff); err != nil {
			return Result{}, err
		}
	}
	// A canary runs beside the serving release instead (canary.go).
	if res, handled, err := p.canary(ctx, target, &serving, &eff, &rollout, obs); handled || err != nil {
		return res, err
	}
	if rollout {
		if reason, msg, failed := p.detectFailure(target, obs); failed {
			p.log.Warn("release failed", "release", target.number(), "reason", reason, "message", p.masker(ctx).Mask(msg))
			if err := p.fail(ctx, target, reason, msg); err != nil {
				return Result{}, err
			}
			eff, rollout = serving, false
			if err := readable(p.app.Name, eff); err != nil {
				return Result{}, err
			}
		} else if rolledOut(target, obs) {
			if err := p.markDeployed(ctx, target); err != nil {
				return Result{}, err
			}
			serving, rollout = target, false
		}
	}

	var pl plan
	switch {
	case rollout && target.reloads():
		// The same instances, their files rewritten and signalled: nothing
		// to surge or stop.
		pl = planExact(p.app.Name, target, obs)
	case rollout && target.strategy().Type == spec.StrategyRecreate:
		pl = planRecreate(p.app.Name, target, obs)
	case rollout:
		pl = planRolling(p.app.Name, target, obs)
	default:
		pl = planExact(p.app.Name, eff, obs)
	}
	p.refreshEnv(ctx, &pl, obs)
	// Traffic first: instances about to stop leave the rotation before the
	// runtime stops them.
	moved, err := p.setProxy(ctx, eff, obs, pl)
	if err != nil {
		return Result{}, err
	}
	errs := p.execute(ctx, p.drain(pl, obs))

	st := p.status(statusIn{ctx: ctx, target: target, eff: eff, serving: serving, obs: obs, pl: pl, rollout: rollout})
	if err := p.writeStatus(ctx, st); err != nil {
		return Result{}, err
	}
	var res Result
	if rollout || len(pl.steps) > 0 || moved {
		res.RequeueAfter = p.r.opts.Requeue
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("deploy: %s: %w", p.app.Name, err)
	}
	return res, nil
}

// readable refuses to converge on a release whose spec this code cannot
// read (a bug, or a store written by a newer version): that must not turn
// into "run nothing".
func readable(app string, rel *release) error {
	if rel != nil && rel.err != nil {
		return fmt.Errorf("deploy: %s: cannot converge on %w", app, rel.err)
	}
	return nil
}

// serving is the release that takes traffic: the newest deployed one.
func (p *pass) serving() *release {
	var best *release
	for _, rel := range p.releases {
		if rel.rec.State == api.ReleaseDeployed && rel.number() > best.number() {
			best = rel
		}
	}
	return best
}

// prepare marks target as progressing and builds what it lacks.
func (p *pass) prepare(ctx context.Context, target *release) error {
	if target.rec.State != api.ReleaseProgressing {
		target.rec.State, target.rec.Reason, target.rec.Message = api.ReleaseProgressing, "", ""
		target.rec.UpdatedAt = p.now
		if err := p.updateReleases(ctx, target); err != nil {
			return err
		}
	}
	if failed, err := p.checkSecrets(ctx, target); failed || err != nil {
		return err
	}
	var missing []string
	for _, svc := range target.order {
		if _, ok := target.rec.Artifacts[svc]; !ok {
			missing = append(missing, svc)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	giveBack, ok := p.r.takeBuildSlot()
	if !ok {
		msg := fmt.Sprintf("release %d waits for a build slot", target.number())
		if err := p.writeStatus(ctx, p.buildingStatus(target, msg)); err != nil {
			return err
		}
		return errNoBuildSlot
	}
	defer giveBack()
	if err := p.writeStatus(ctx, p.buildingStatus(target, fmt.Sprintf("building release %d", target.number()))); err != nil {
		return err
	}
	bctx, stopWatch := p.watchTarget(ctx, target.number())
	defer stopWatch()
	arts := make(map[string]api.Artifact, len(target.order))
	for k, v := range target.rec.Artifacts {
		arts[k] = v
	}
	for _, svc := range missing {
		s := target.service(svc)
		res, err := p.r.opts.Builder.Build(bctx, build.Request{
			App: p.app.Name, Service: svc, Source: target.rec.Source,
			Dir: s.Dir, Command: s.Build, Env: s.Env,
		})
		if err != nil {
			if errors.Is(context.Cause(bctx), errTargetMoved) {
				p.log.Info("build cancelled: the app no longer wants this release", "release", target.number(), "service", svc)
				return errTargetMoved
			}
			if isCanceled(ctx, err) {
				return err
			}
			return p.fail(ctx, target, ReasonBuildFailed, buildMessage(svc, err))
		}
		arts[svc] = api.Artifact{BuildKey: res.Key, Dir: res.Dir}
	}
	target.rec.Artifacts = arts
	// The progress deadline counts from here: a first build of a large
	// service may take longer than the deadline itself.
	target.rec.UpdatedAt = p.now
	if t := p.r.now(); t.After(p.now) {
		target.rec.UpdatedAt = t
	}
	if err := p.updateReleases(ctx, target); err != nil {
		return err
	}
	// What the pass read before the build may be stale by now: act on it
	// only if nobody changed the app meanwhile.
	return p.unchanged(ctx)
}

func buildMessage(svc string, err error) string {
	var be *build.BuildError
	if errors.As(err, &be) {
		msg := fmt.Sprintf("service %s: build failed with exit code %d", svc, be.ExitCode)
		if tail := lastLines(be.LogTail, 5); tail != "" {
			msg += "; last output: " + tail
		}
		return msg
	}
	return fmt.Sprintf("service %s: build failed: %v", svc, err)
}

// supersedeAbandoned closes releases that were still pending or rolling out
// when a newer one became the target. One whose rollout had in fact
// finished (the newer apply came between the pass that stopped the last
// old instance and the one that would have marked it deployed) is what
// runs: it becomes the serving release, so a failure of the newer one
// returns to it rather than to the release before it.
func (p *pass) supersedeAbandoned(ctx context.Context) error {
	var abandoned []*release
	for _, rel := range p.releases {
		if rel.number() < p.app.TargetRelease && (rel.rec.State == api.ReleasePending || rel.rec.State == api.ReleaseProgressing) {
			abandoned = append(abandoned, rel)
		}
	}
	if len(abandoned) == 0 {
		return nil
	}
	list, err := p.r.rt.List(ctx, p.app.Name)
	if err != nil {
		return fmt.Errorf("deploy: list workloads of %s: %w", p.app.Name, err)
	}
	obs := observe(list)
	var finished *release
	for _, rel := range abandoned {
		if rel.err == nil && rel.rec.State == api.ReleaseProgressing && rolledOut(rel, obs) && rel.number() > finished.number() {
			finished = rel
		}
	}
	if finished != nil {
		if err := p.markDeployed(ctx, finished); err != nil {
			return err
		}
	}
	var gone []*release
	for _, rel := range abandoned {
		if rel != finished {
			rel.rec.State = api.ReleaseSuperseded
			rel.rec.Reason = ReasonReplaced
			rel.rec.Message = fmt.Sprintf("release %d was applied before this one finished rolling out", p.app.TargetRelease)
			rel.rec.UpdatedAt = p.now
			gone = append(gone, rel)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return p.updateReleases(ctx, gone...)
}

// fail marks rel failed; the caller converges back to the serving release.
// The message may quote an instance's output: secrets are masked in it.
func (p *pass) fail(ctx context.Context, rel *release, reason, msg string) error {
	rel.rec.State, rel.rec.Reason, rel.rec.Message = api.ReleaseFailed, reason, p.masker(ctx).Mask(msg)
	rel.rec.UpdatedAt = p.now
	return p.updateReleases(ctx, rel)
}

// markDeployed makes target the serving release; the one before it is
// superseded.
func (p *pass) markDeployed(ctx context.Context, target *release) error {
	target.rec.State, target.rec.Reason, target.rec.Message = api.ReleaseDeployed, "", ""
	target.rec.UpdatedAt = p.now
	changed := []*release{target}
	for _, rel := range p.releases {
		if rel != target && rel.rec.State == api.ReleaseDeployed {
			rel.rec.State = api.ReleaseSuperseded
			rel.rec.UpdatedAt = p.now
			changed = append(changed, rel)
		}
	}
	p.log.Info("release deployed", "release", target.number())
	return p.updateReleases(ctx, changed...)
}

// updateReleases writes rels and one release.updated event each, in one
// transaction.
func (p *pass) updateReleases(ctx context.Context, rels ...*release) error {
	versions := make([]int64, len(rels))
	err := p.r.store.InTx(ctx, func(tx store.Tx) error {
		for i, rel := range rels {
			v, err := tx.UpdateRelease(ctx, rel.rec)
			if err != nil {
				return fmt.Errorf("deploy: update release %s/%d: %w", rel.rec.App, rel.number(), err)
			}
			versions[i] = v
			data, err := json.Marshal(rel.toAPI())
			if err != nil {
				return fmt.Errorf("deploy: encode release event: %w", err)
			}
			if _, err := tx.AppendEvent(ctx, store.Event{
				Kind: api.EventReleaseUpdated, App: rel.rec.App, Release: rel.number(), Time: p.now, Data: data,
			}); err != nil {
				return fmt.Errorf("deploy: append event: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, rel := range rels {
		rel.rec.Version = versions[i]
	}
	return nil
}

// execute carries out the plan; it goes on past failures so that one
// refused workload does not hold back the others, and returns them all.
func (p *pass) execute(ctx context.Context, pl plan) []error {
	var errs []error
	for _, s := range pl.steps {
		if ctx.Err() != nil {
			return append(errs, ctx.Err())
		}
		if s.del {
			p.log.Info("deleting workload", "workload", s.id)
			if err := p.r.rt.Delete(ctx, s.id); err != nil {
				errs = append(errs, fmt.Errorf("delete %s: %w", s.id, err))
			}
			continue
		}
		w, err := p.workload(ctx, s.release, s.service, s.replicas)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p.log.Info("applying workload", "workload", s.id, "replicas", s.replicas)
		if err := p.r.rt.Apply(ctx, w); err != nil {
			p.r.applyErrs.Store(s.id, err.Error())
			errs = append(errs, fmt.Errorf("apply %s: %w", s.id, err))
			continue
		}
		p.r.applyErrs.Delete(s.id)
	}
	return errs
}

// lastLines joins the last n non-empty lines of out on one line.
func lastLines(out []string, n int) string {
	var keep []string
	for i := len(out) - 1; i >= 0 && len(keep) < n; i-- {
		if l := trimLine(out[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	return joinLines(keep)
}
