package deploy

import (
	"fmt"

	"github.com/berthdev/berth/internal/runtime"
)

// ErrNotFound is returned by Logs when the service has no workloads. It
// wraps runtime.ErrNotFound, so callers that only know the runtime's
// contract (the API's log source) recognise it too.
var ErrNotFound = fmt.Errorf("deploy: %w", runtime.ErrNotFound)
