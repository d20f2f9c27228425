package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/store"
)

// approvalPoll is how often a waiting approval step rereads the decisions
// when nobody pokes it.
const approvalPoll = 500 * time.Millisecond

// approvalStep waits for Count approvals from the step's approvers; one
// rejection fails it, and so does its timeout.
func (r *Runner) approvalStep(ctx context.Context, env *runEnv, step *pipeline.Step) sched.Outcome {
	cfg := step.Approval
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout.D())
	defer cancel()
	who := "role " + cfg.Role + " or above"
	if len(cfg.Users) > 0 {
		who = "one of " + strings.Join(cfg.Users, ", ")
	}
	env.log.note("step %s waits for %d approval(s) from %s (berth approve %s), for at most %s", step.Name, cfg.Count, who, env.run.ID, cfg.Timeout.D())
	t := time.NewTicker(approvalPoll)
	defer t.Stop()
	for {
		all, err := r.st.ListApprovals(ctx, env.run.ID)
		if err == nil {
			var yes []string
			for _, a := range all {
				if a.Step != step.Name {
					continue
				}
				if a.Decision == store.DecisionReject {
					return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("rejected by %s%s", a.Who, comment(a.Comment))}
				}
				yes = append(yes, a.Who+comment(a.Comment))
			}
			if len(yes) >= cfg.Count {
				return sched.Outcome{Reason: "approved by " + strings.Join(yes, ", ")}
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf("no decision within %s", cfg.Timeout.D())}
			}
			return sched.Outcome{Cancelled: true, ExitCode: 1, Reason: "cancelled while waiting for approval"}
		case <-env.act.decided:
		case <-t.C:
		}
	}
}

func comment(c string) string {
	if c == "" {
		return ""
	}
	return fmt.Sprintf(" (%q)", c)
}

// Decide records p's approval or rejection of the waiting approval step of
// run id. The caller has checked the approvals:decide permission in the
// run's team; Decide checks that p is one of the step's approvers: a
// listed user, or a holder of the step's role or a higher one.
func (r *Runner) Decide(ctx context.Context, p rbac.Principal, id, decision, text string) (store.Run, error) {
	if decision != store.DecisionApprove && decision != store.DecisionReject {
		return store.Run{}, fmt.Errorf("runner: decision %q", decision)
	}
	run, err := r.st.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	if store.RunTerminal(run.State) {
		return run, pipeline.ErrRunEnded
	}
	r.mu.Lock()
	a := r.active[id]
	var pl *pipeline.Pipeline
	if a != nil {
		pl = a.p
	}
	r.mu.Unlock()
	if pl == nil {
		return run, pipeline.ErrNoApproval
	}
	var waiting []string
	for _, s := range run.Steps {
		if s.Kind == string(pipeline.KindApproval) && s.Status == string(sched.Running) {
			waiting = append(waiting, s.Name)
		}
	}
	if len(waiting) == 0 {
		return run, pipeline.ErrNoApproval
	}
	var notFor []string
	for _, name := range waiting {
		step := pl.Step(name)
		if step == nil || step.Approval == nil {
			continue
		}
		if why := approverProblem(p, run.Team, step.Approval); why != "" {
			notFor = append(notFor, name+": "+why)
			continue
		}
		err := r.st.CreateApproval(ctx, store.Approval{Run: id, Step: name, Who: p.Subject, Decision: decision, Comment: text, Time: r.opts.Now().UTC()})
		if errors.Is(err, store.ErrExists) {
			return run, fmt.Errorf("%w (step %s)", pipeline.ErrDecided, name)
		}
		if err != nil {
			return run, err
		}
		select {
		case a.decided <- struct{}{}:
		default:
		}
		r.log.InfoContext(ctx, "pipeline approval decided", "run", id, "step", name, "who", p.Subject, "decision", decision)
		return run, nil
	}
	return run, fmt.Errorf("%w: %s", pipeline.ErrNotApprover, strings.Join(notFor, "; "))
}

// approverProblem says why p may not decide on a step of cfg, or "".
func approverProblem(p rbac.Principal, team string, cfg *pipeline.Approval) string {
	if len(cfg.Users) > 0 {
		if slices.Contains(cfg.Users, p.Subject) {
			return ""
		}
		return fmt.Sprintf("approvers are %s", strings.Join(cfg.Users, ", "))
	}
	role, ok := p.Role(team)
	if !ok {
		return "you are not a member of the team"
	}
	if !role.AtLeast(rbac.Role(cfg.Role)) {
		return fmt.Sprintf("it needs role %s or above; you are %s", cfg.Role, role)
	}
	return ""
}
