package deploy

import (
	"fmt"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

// detectFailure decides whether the rollout of target has failed: one of
// its instances crash-loops, or it is not done by its progress deadline
// (see rolloutStart for when the deadline starts).
func (p *pass) detectFailure(target *release, obs observed) (reason, msg string, failed bool) {
	for _, svc := range target.order {
		w := obs.at(svc, target.number())
		if w == nil {
			continue
		}
		for _, inst := range w.Instances {
			if inst.State == runtime.StateFailed || (!inst.Ready && inst.Restarts >= p.r.opts.CrashLoopRestarts) {
				return ReasonCrashLoop, crashMessage(svc, inst), true
			}
		}
	}
	deadline := target.strategy().ProgressDeadline
	if p.now.Sub(p.rolloutStart(target)) > deadline.D() {
		return ReasonProgressDeadline, p.deadlineMessage(target, obs, deadline.String()), true
	}
	return "", "", false
}

// watchedRollout is when this process first saw an app's rollout.
type watchedRollout struct {
	release int
	at      time.Time
}

// rolloutStart is when target's progress deadline starts: when its build
// finished (its UpdatedAt), or when this server process first saw the
// rollout, whichever is later. Time during which no server was running does
// not count: a server that comes back after being down longer than the
// deadline would otherwise fail every rollout at once, without having
// looked at a single instance; it gives them the whole deadline instead.
func (p *pass) rolloutStart(target *release) time.Time {
	seen := watchedRollout{release: target.number(), at: p.now}
	if v, ok := p.r.watched.Load(p.app.Name); ok && v.(watchedRollout).release == seen.release {
		seen = v.(watchedRollout)
	} else {
		p.r.watched.Store(p.app.Name, seen)
	}
	if target.rec.UpdatedAt.After(seen.at) {
		return target.rec.UpdatedAt
	}
	return seen.at
}

func crashMessage(svc string, inst runtime.Instance) string {
	e := inst.LastExit
	if e == nil {
		msg := fmt.Sprintf("service %s: instance %s failed after %d restarts", svc, inst.ID, inst.Restarts)
		if inst.Message != "" {
			msg += ": " + inst.Message
		}
		return msg
	}
	how := fmt.Sprintf("exited with code %d", e.Code)
	if e.Signal != "" {
		how = "was killed by " + e.Signal
	}
	msg := fmt.Sprintf("service %s: %s after %d restarts", svc, how, inst.Restarts)
	if tail := lastLines(e.LogTail, 5); tail != "" {
		msg += "; last output: " + tail
	}
	return msg
}

// deadlineMessage names the first service that is not done and why.
func (p *pass) deadlineMessage(target *release, obs observed, d string) string {
	for _, svc := range target.order {
		if serviceDone(target, svc, obs) {
			continue
		}
		want := target.replicas(svc)
		id := target.workloadID(p.app.Name, svc)
		w := obs.at(svc, target.number())
		if w == nil {
			if e, ok := p.r.applyErrs.Load(id); ok {
				return fmt.Sprintf("service %s: not started after %s: the runtime refused it: %s", svc, d, e)
			}
			if dep, ok := depsReady(target, svc, obs); !ok {
				return fmt.Sprintf("service %s: not started after %s: waiting for dependency %s to be ready", svc, d, dep)
			}
			return fmt.Sprintf("service %s: not started after %s", svc, d)
		}
		msg := fmt.Sprintf("service %s: %d/%d ready after %s", svc, w.Ready, want, d)
		if inst := firstNotReady(w); inst != nil && inst.Message != "" {
			msg += ": " + inst.Message
		}
		return msg
	}
	return fmt.Sprintf("old instances still running after %s", d)
}

func firstNotReady(w *runtime.WorkloadStatus) *runtime.Instance {
	for i := range w.Instances {
		if !w.Instances[i].Ready {
			return &w.Instances[i]
		}
	}
	return nil
}

func trimLine(s string) string { return strings.TrimSpace(s) }

// joinLines keeps a message on one line: conditions and the CLI's
// progress show it as such.
func joinLines(lines []string) string { return strings.Join(lines, " | ") }
