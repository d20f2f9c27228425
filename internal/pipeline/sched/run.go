package sched

import (
	"fmt"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
)

// Run is the scheduling state of one run. It is not safe for concurrent
// use; the run's owner serialises calls.
type Run struct {
	p      *pipeline.Pipeline
	trig   pipeline.Trigger
	opts   Options
	steps  []StepState
	pos    map[string]int
	needs  [][]int // indexes of each step's needs, notify steps' implicit ones included
	first  int     // index of the first failed step, or -1
	cancel string  // the cancel reason, "" while not cancelled
}

// New starts scheduling a run of p started by t. p is not changed and must
// not be changed while the run lives.
func New(p *pipeline.Pipeline, t pipeline.Trigger, o Options) (*Run, error) {
	r := &Run{p: p, trig: t, opts: o, pos: map[string]int{}, first: -1}
	for i, s := range p.Steps {
		if _, dup := r.pos[s.Name]; dup {
			return nil, fmt.Errorf("%w: duplicate step name %q", ErrInvalid, s.Name)
		}
		r.pos[s.Name] = i
		r.steps = append(r.steps, StepState{Name: s.Name, Status: Pending})
	}
	for _, s := range p.Steps {
		var idx []int
		for _, n := range s.Needs {
			j, ok := r.pos[n]
			if !ok {
				return nil, fmt.Errorf("%w: step %q needs unknown step %q", ErrInvalid, s.Name, n)
			}
			idx = append(idx, j)
		}
		if s.Kind() == pipeline.KindNotify && len(s.Needs) == 0 {
			// A bare notify reports on the whole run: it waits for every
			// step but the other notifies.
			for j, o := range p.Steps {
				if o.Kind() != pipeline.KindNotify {
					idx = append(idx, j)
				}
			}
		}
		r.needs = append(r.needs, idx)
	}
	if c := pipeline.Cycles(p); len(c) > 0 {
		return nil, fmt.Errorf("%w: cycle %s", ErrInvalid, strings.Join(c[0], " -> "))
	}
	for i, s := range p.Steps {
		for _, n := range s.Needs {
			if n == s.Name {
				return nil, fmt.Errorf("%w: step %q needs itself", ErrInvalid, p.Steps[i].Name)
			}
		}
	}
	return r, nil
}

// Steps returns a copy of every step's state, in the order written.
func (r *Run) Steps() []StepState {
	return append([]StepState(nil), r.steps...)
}

// Done reports whether every step has reached an end state.
func (r *Run) Done() bool {
	for _, s := range r.steps {
		if !s.Status.Terminal() {
			return false
		}
	}
	return true
}

// Result is the run's state: Running until Done, then Succeeded, Failed
// (with the first failure's exit code) or Cancelled.
func (r *Run) Result() Result {
	res := Result{Status: Succeeded}
	if r.first >= 0 {
		res = Result{Status: Failed, ExitCode: r.steps[r.first].ExitCode, FailedStep: r.steps[r.first].Name}
	}
	if r.cancel != "" {
		res.Status = Cancelled
	}
	if !r.Done() {
		res.Status = Running
	}
	return res
}

// Cancel stops the run: pending steps are cancelled, nothing new starts,
// and failures no longer retry. It returns the running steps, which the
// caller must stop and then report with Finish.
func (r *Run) Cancel(reason string) []string {
	if reason == "" {
		reason = "run cancelled"
	}
	if r.cancel == "" {
		r.cancel = reason
	}
	var running []string
	for i := range r.steps {
		switch s := &r.steps[i]; s.Status {
		case Pending:
			s.Status, s.Reason = Cancelled, r.cancel
		case Running:
			running = append(running, s.Name)
		}
	}
	return running
}

// Finish records how the running step name ended. It reports whether the
// step will be retried (it is then pending again).
func (r *Run) Finish(name string, o Outcome) (retry bool, err error) {
	i, ok := r.pos[name]
	if !ok {
		return false, fmt.Errorf("%w: %q", ErrUnknownStep, name)
	}
	s := &r.steps[i]
	if s.Status != Running {
		return false, fmt.Errorf("%w: %q is %s", ErrNotRunning, name, s.Status)
	}
	s.ExitCode, s.Reason = o.ExitCode, o.Reason
	switch {
	case o.ExitCode == 0 && !o.Cancelled:
		s.Status = Succeeded
	case o.Cancelled || r.cancel != "":
		if r.cancel == "" {
			// A step is cancelled only because its run is, and the step's
			// end can reach the caller before the run's cancel does: the
			// run must not then end as if every step had succeeded.
			r.Cancel("")
		}
		s.Status = Cancelled
		if s.Reason == "" {
			s.Reason = r.cancel
		}
	case s.Attempt <= r.p.Steps[i].Retry:
		s.Status = Pending
		if s.Reason == "" {
			s.Reason = fmt.Sprintf("attempt %d failed with exit code %d", s.Attempt, o.ExitCode)
		}
		return true, nil
	default:
		s.Status = Failed
		if s.Reason == "" {
			s.Reason = fmt.Sprintf("exit code %d", o.ExitCode)
		}
		if r.first < 0 {
			r.first = i
		}
	}
	return false, nil
}
