package kubetest

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrBinariesMissing means the control-plane binaries are not built (or
	// were built for another version); `make kube-testenv` builds them.
	ErrBinariesMissing = errors.New("kubetest: control-plane binaries missing")
	// ErrNotReady means the cluster did not become ready in time.
	ErrNotReady = errors.New("kubetest: cluster not ready")
	// ErrPortTaken means a component could not bind the port picked for
	// it: another process took it between the pick and the bind.
	ErrPortTaken = errors.New("kubetest: a component's port was taken")
)

// ErrRealNodeUnavailable means a real node cannot be started here: its
// binaries are not built (`make kube-realnode`), runc is missing, or the
// test is not root.
var ErrRealNodeUnavailable = errors.New("kubetest: real node unavailable")
