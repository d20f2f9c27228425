package clusterroute

import "errors"

// ErrNoControlPlaneURL means the server was not told the URL gateways in
// clusters reach its API at, so it cannot run one.
var ErrNoControlPlaneURL = errors.New("clusterroute: no control plane URL for gateways in clusters (berth server --advertise-url)")
