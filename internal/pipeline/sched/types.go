package sched

// Status is where a step or run is.
type Status string

const (
	Pending   Status = "pending"
	Running   Status = "running"
	Succeeded Status = "success"
	Failed    Status = "failure"
	Skipped   Status = "skipped"
	Cancelled Status = "cancelled"
)

// Terminal reports whether s is an end state.
func (s Status) Terminal() bool {
	return s == Succeeded || s == Failed || s == Skipped || s == Cancelled
}

// StepState is what the scheduler knows about one step.
type StepState struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Attempt is the number of the current or last attempt, from 1; 0
	// before the first start.
	Attempt  int `json:"attempt"`
	ExitCode int `json:"exit_code"`
	// Reason says why a step was skipped, failed or cancelled.
	Reason string `json:"reason,omitempty"`
}

// Options tune a run.
type Options struct {
	// Parallelism is the most steps running at once, approval steps not
	// counted; 0 means no limit.
	Parallelism int
	// FailFast skips every step not yet started once one fails (notify
	// steps still run, to report it).
	FailFast bool
}

// Outcome is how one attempt of a step ended, as the executor saw it.
type Outcome struct {
	// ExitCode is the process's exit code; 0 is success. Steps that are not
	// processes (deploy, approval, notify) use 0 or 1.
	ExitCode int
	// Cancelled is set when the step was stopped because the run was
	// cancelled; it is never retried.
	Cancelled bool
	// Reason says what went wrong in words ("timed out after 10m").
	Reason string
}

// Plan is the result of one Next: what to start and what is left.
type Plan struct {
	// Start lists the steps to start now, in the order written; they are
	// Running from here on.
	Start []string
	// Skipped lists the steps skipped by this Next, with reasons.
	Skipped []Note
	// Blocked lists the pending steps that cannot start yet, with reasons.
	Blocked []Note
}

// Note names a step and says something about it.
type Note struct {
	Name   string
	Reason string
}

// Result is a run's end state.
type Result struct {
	Status Status
	// ExitCode and FailedStep come from the first step that failed.
	ExitCode   int
	FailedStep string
}
