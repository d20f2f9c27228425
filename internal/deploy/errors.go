package deploy

import "errors"

// ErrNotFound is returned by Logs when the service has no workloads.
var ErrNotFound = errors.New("deploy: not found")
