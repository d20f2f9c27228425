package sched

import "errors"

var (
	// ErrInvalid is returned by New for a pipeline whose needs name unknown
	// steps or form a cycle (Parse refuses those; code can build them).
	ErrInvalid = errors.New("sched: invalid pipeline")
	// ErrUnknownStep is returned by Finish for a name not in the pipeline.
	ErrUnknownStep = errors.New("sched: unknown step")
	// ErrNotRunning is returned by Finish for a step that is not running.
	ErrNotRunning = errors.New("sched: step is not running")
)
