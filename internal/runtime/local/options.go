package local

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"time"
)

// Options configure a local runtime.
type Options struct {
	// Dir is the runtime's state root, e.g. <data-dir>/runtime.
	Dir string
	// ShimCommand starts an instance supervisor; the runtime appends
	// "--dir <instance dir>". Normally {"/path/to/berth", "shim"}.
	ShimCommand []string
	// ShimEnv is added to the server's environment for the shim (tests use it
	// to make the test binary act as the shim).
	ShimEnv []string
	Logger  *slog.Logger
	// PollInterval is how often the runtime reads the instances' state files
	// for Watch, heals dead shims, and how often Logs follows output.
	// Default 250ms.
	PollInterval time.Duration
	// PortAllocator returns a free port for a new instance. Default: listen
	// on 127.0.0.1:0 and close.
	PortAllocator func() (int, error)

	// The rest tunes the shims of instances created from now on; the zero
	// value means the production default. Tests shorten them.

	// LogMaxBytes is the size at which output.log is rotated (10 MiB).
	LogMaxBytes int64
	// LogMaxFiles is how many output files are kept, the current one
	// included (3).
	LogMaxFiles int
	// BackoffBase and BackoffMax bound the delay before a process that
	// exited is started again (1s, doubling, at most 30s).
	BackoffBase, BackoffMax time.Duration
	// BackoffReset is how long a process must stay up for the backoff to
	// start again from BackoffBase (30s).
	BackoffReset time.Duration
	// ReadyAfter is how long a process without a health check must stay up
	// to count as ready (1s).
	ReadyAfter time.Duration
}

// Defaults for Options.
const (
	DefaultPollInterval = 250 * time.Millisecond
	DefaultLogMaxBytes  = 10 << 20
	DefaultLogMaxFiles  = 3
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 30 * time.Second
	DefaultBackoffReset = 30 * time.Second
	DefaultReadyAfter   = time.Second
)

func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("local runtime: options.Dir: required (the runtime's state folder)")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("local runtime: options.Dir: %w", err)
	}
	o.Dir = abs
	if len(o.ShimCommand) == 0 || o.ShimCommand[0] == "" {
		return o, errors.New("local runtime: options.ShimCommand: required (e.g. [\"/usr/bin/berth\", \"shim\"])")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.PortAllocator == nil {
		o.PortAllocator = freePort
	}
	if o.LogMaxBytes <= 0 {
		o.LogMaxBytes = DefaultLogMaxBytes
	}
	if o.LogMaxFiles <= 0 {
		o.LogMaxFiles = DefaultLogMaxFiles
	}
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.BackoffMax < o.BackoffBase {
		o.BackoffMax = o.BackoffBase
	}
	if o.BackoffReset <= 0 {
		o.BackoffReset = DefaultBackoffReset
	}
	if o.ReadyAfter <= 0 {
		o.ReadyAfter = DefaultReadyAfter
	}
	return o, nil
}

// freePort asks the kernel for a free port. Another process may take it
// before the instance binds it; the instance then fails, is restarted and
// keeps failing visibly rather than silently sharing a port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("allocate port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
