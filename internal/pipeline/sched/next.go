package sched

import (
	"fmt"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
)

// Next applies the rules to every pending step, in the order written, and
// returns what to start, what it skipped and what still waits. Steps in
// Start are Running when it returns. Calling Next again without a Finish in
// between starts nothing new.
func (r *Run) Next() Plan {
	var plan Plan
	if r.cancel != "" {
		return plan
	}
	// Skipping one step can decide its dependents, so repeat until a pass
	// changes nothing; each pass ends at least one step or stops.
	for r.skipPass(&plan) {
	}
	running := r.countRunning()
	for i := range r.steps {
		s := &r.steps[i]
		if s.Status != Pending {
			continue
		}
		if waiting := r.waitingOn(i); len(waiting) > 0 {
			plan.Blocked = append(plan.Blocked, Note{s.Name, "waiting for " + strings.Join(waiting, ", ")})
			continue
		}
		counts := r.p.Steps[i].Kind() != pipeline.KindApproval
		if counts && r.opts.Parallelism > 0 && running >= r.opts.Parallelism {
			plan.Blocked = append(plan.Blocked, Note{s.Name, fmt.Sprintf("parallelism limit of %d reached", r.opts.Parallelism)})
			continue
		}
		if counts {
			running++
		}
		s.Status, s.Reason = Running, ""
		s.Attempt++
		plan.Start = append(plan.Start, s.Name)
	}
	return plan
}

// skipPass skips the pending steps whose fate is already sealed and
// reports whether it skipped any.
func (r *Run) skipPass(plan *Plan) bool {
	changed := false
	for i := range r.steps {
		s := &r.steps[i]
		if s.Status != Pending {
			continue
		}
		if why := r.skipReason(i); why != "" {
			s.Status, s.Reason = Skipped, why
			plan.Skipped = append(plan.Skipped, Note{s.Name, why})
			changed = true
		}
	}
	return changed
}

// skipReason says why pending step i will never run, or "".
func (r *Run) skipReason(i int) string {
	step := &r.p.Steps[i]
	if ok, why := step.When.Match(r.trig); !ok {
		return why
	}
	notify := step.Kind() == pipeline.KindNotify
	if r.opts.FailFast && r.first >= 0 && !notify && r.steps[i].Attempt == 0 {
		return fmt.Sprintf("the run failed at %s (fail fast)", r.steps[r.first].Name)
	}
	if notify {
		if len(r.waitingOn(i)) > 0 {
			return ""
		}
		outcome := pipeline.OnSuccess
		if r.first >= 0 {
			outcome = pipeline.OnFailure
		}
		if !slices.Contains(step.Notify.On, outcome) {
			return fmt.Sprintf("the run's outcome is %s; notify only on %s", outcome, strings.Join(step.Notify.On, ", "))
		}
		return ""
	}
	for _, j := range r.needs[i] {
		switch n := r.steps[j]; n.Status {
		case Failed:
			return fmt.Sprintf("needs %s, which failed", n.Name)
		case Skipped:
			return fmt.Sprintf("needs %s, which was skipped", n.Name)
		case Cancelled:
			return fmt.Sprintf("needs %s, which was cancelled", n.Name)
		}
	}
	return ""
}

// waitingOn lists the needs of step i that have not ended (for a notify
// step) or not succeeded (for the others).
func (r *Run) waitingOn(i int) []string {
	var out []string
	notify := r.p.Steps[i].Kind() == pipeline.KindNotify
	for _, j := range r.needs[i] {
		st := r.steps[j].Status
		if (notify && !st.Terminal()) || (!notify && st != Succeeded) {
			out = append(out, r.steps[j].Name)
		}
	}
	return out
}

func (r *Run) countRunning() int {
	n := 0
	for i, s := range r.steps {
		if s.Status == Running && r.p.Steps[i].Kind() != pipeline.KindApproval {
			n++
		}
	}
	return n
}
