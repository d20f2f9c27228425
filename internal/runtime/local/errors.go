package local

import "errors"

// Sentinel errors of the local runtime. runtime.ErrNotFound is used for
// unknown workloads and instances.
var (
	// ErrInvalidWorkload wraps every problem with a Workload given to Apply;
	// the message names the field and what was expected.
	ErrInvalidWorkload = errors.New("local runtime: invalid workload")
	// ErrClosed is returned by methods called after Close.
	ErrClosed = errors.New("local runtime: closed")
	// ErrInUse is returned by New when another runtime (another server)
	// uses the folder.
	ErrInUse = errors.New("local runtime: the folder is in use by another runtime")
	// errLocked means another shim holds an instance's lock.
	errLocked = errors.New("instance is supervised by another shim")
)
