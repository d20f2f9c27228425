package pipeline

import "errors"

// Errors of the run driver (package runner), defined here so the API can
// map them to HTTP statuses without importing the driver.
var (
	// ErrNoSource: the app's berth.yaml names no source.git, so there is
	// nothing to run a pipeline on (409).
	ErrNoSource = errors.New("the app has no source.git in its berth.yaml")
	// ErrRunEnded: the run has already ended; it cannot be cancelled or
	// decided on (409).
	ErrRunEnded = errors.New("the run has already ended")
	// ErrNoApproval: no approval step of the run is waiting (409).
	ErrNoApproval = errors.New("no approval step of the run is waiting")
	// ErrNotApprover: the caller is not among the step's approvers (403).
	ErrNotApprover = errors.New("you are not one of this step's approvers")
	// ErrDecided: the caller already decided on this step (409).
	ErrDecided = errors.New("you have already decided on this step")
	// ErrBadParam: a parameter name or value cannot be used (422).
	ErrBadParam = errors.New("bad parameter")
	// ErrUnavailable: pipelines are not running on this server (503).
	ErrUnavailable = errors.New("pipelines are not available on this server")
)
