package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/store"
)

// stepDone is how one attempt of a step ended.
type stepDone struct {
	name string
	out  sched.Outcome
}

// schedule runs the steps as sched decides until every step has ended.
func (r *Runner) schedule(ctx context.Context, env *runEnv) outcome {
	s := env.sched
	results := make(chan stepDone, len(env.p.Steps)) // a step that ends after the loop gave up must not block
	running := 0
	done := ctx.Done()
	cancelReason := ""
	for {
		plan := s.Next()
		for _, n := range plan.Skipped {
			env.log.note("step %s skipped: %s", n.Name, n.Reason)
		}
		now := r.opts.Now()
		for _, name := range plan.Start {
			running++
			env.started[name] = now
			delete(env.ended, name)
			step := env.p.Step(name)
			outcomeSoFar := runOutcome(s)
			go func() {
				results <- stepDone{name: name, out: r.runStep(ctx, env, step, outcomeSoFar)}
			}()
		}
		r.saveSteps(ctx, env)
		if s.Done() {
			break
		}
		if running == 0 {
			// Nothing runs and nothing can start: only a scheduler bug gets
			// here, and a run must not hang on it.
			s.Cancel("no step can start")
			r.saveSteps(ctx, env)
			return failed("no step can start; blocked: %v", plan.Blocked)
		}
		select {
		case d := <-results:
			running--
			env.ended[d.name] = r.opts.Now()
			retry, err := s.Finish(d.name, d.out)
			if err != nil {
				return failed("%v", err)
			}
			st := s.Steps()[indexOf(s, d.name)]
			switch {
			case retry:
				env.log.note("step %s: attempt %d failed (%s); retrying", d.name, st.Attempt, st.Reason)
			case st.Status == sched.Succeeded:
				env.log.note("step %s succeeded in %s", d.name, env.ended[d.name].Sub(env.started[d.name]).Round(time.Millisecond))
			default:
				env.log.note("step %s %s: %s", d.name, st.Status, st.Reason)
			}
		case <-done:
			done = nil
			cancelReason = "run cancelled"
			if cause := context.Cause(ctx); errors.Is(cause, errCancelled) {
				cancelReason = "run " + cause.Error()
			}
			still := s.Cancel(cancelReason)
			env.log.note("%s; stopping %v", cancelReason, still)
		}
	}
	res := s.Result()
	switch res.Status {
	case sched.Succeeded:
		return outcome{state: store.RunSucceeded, reason: "every step succeeded or was skipped"}
	case sched.Cancelled:
		if cancelReason == "" {
			cancelReason = "run cancelled"
			if cause := context.Cause(ctx); errors.Is(cause, errCancelled) {
				cancelReason = "run " + cause.Error()
			}
		}
		return outcome{state: store.RunCancelled, reason: cancelReason, exitCode: res.ExitCode}
	default:
		st := s.Steps()[indexOf(s, res.FailedStep)]
		return outcome{state: store.RunFailed, reason: fmt.Sprintf("step %s failed: %s", res.FailedStep, st.Reason), exitCode: res.ExitCode}
	}
}

func indexOf(s *sched.Run, name string) int {
	for i, st := range s.Steps() {
		if st.Name == name {
			return i
		}
	}
	return 0
}

// runOutcome is the run's outcome so far, for notify steps.
func runOutcome(s *sched.Run) string {
	for _, st := range s.Steps() {
		if st.Status == sched.Failed {
			return pipeline.OnFailure
		}
	}
	return pipeline.OnSuccess
}

// saveSteps writes every step's state to the run.
func (r *Runner) saveSteps(ctx context.Context, env *runEnv) {
	states := env.sched.Steps()
	steps := make([]store.RunStep, len(states))
	for i, st := range states {
		steps[i] = store.RunStep{
			Name: st.Name, Kind: string(env.p.Steps[i].Kind()), Status: string(st.Status),
			Attempt: st.Attempt, ExitCode: st.ExitCode, Reason: env.log.mask(st.Reason),
			StartedAt: env.started[st.Name].UTC(), FinishedAt: env.ended[st.Name].UTC(),
			Artifacts: env.artifacts.of(st.Name),
			Cache:     env.artifacts.cacheOf(st.Name),
		}
		if env.started[st.Name].IsZero() {
			steps[i].StartedAt = time.Time{}
		}
		if env.ended[st.Name].IsZero() {
			steps[i].FinishedAt = time.Time{}
		}
	}
	wctx, done := context.WithTimeout(context.WithoutCancel(ctx), finalWrite)
	defer done()
	if _, err := r.update(wctx, env.run.ID, func(run *store.Run) error { run.Steps = withStoredArtifacts(steps, run.Steps); return nil }); err != nil {
		r.log.WarnContext(ctx, "saving step states failed", "run", env.run.ID, "err", err)
	}
}
