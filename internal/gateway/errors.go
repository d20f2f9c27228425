package gateway

import "errors"

// ErrInvalidSnapshot wraps every reason Load refuses a snapshot; the error
// text names the route and the field.
var ErrInvalidSnapshot = errors.New("gateway: invalid snapshot")

// ErrClosed is returned by Load after Close.
var ErrClosed = errors.New("gateway: closed")

// Reasons an attempt to reach an endpoint failed, before any response.
var (
	errNoEndpoint     = errors.New("no ready instance")
	errBadResponse    = errors.New("malformed response from the instance")
	errHeaderTooLarge = errors.New("response header too large")
	errBodyTooLarge   = errors.New("request body too large")
	errClientGone     = errors.New("client went away")
)
