package gatewayd

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrNoState means there is no usable state file: none yet, or one
	// saved from another control plane.
	ErrNoState = errors.New("gatewayd: no saved table")
	// ErrRejected means the gateway refused a snapshot (gateway.Load
	// failed); the last table keeps serving.
	ErrRejected = errors.New("gatewayd: snapshot refused")
)
