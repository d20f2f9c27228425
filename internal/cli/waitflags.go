package cli

import (
	"time"

	"github.com/spf13/cobra"
)

const defaultTimeout = 5 * time.Minute

// waitFlags are --wait and --timeout, shared by every command that can
// follow what it started until it is done, so they read and fail alike.
type waitFlags struct {
	wait    bool
	timeout time.Duration
}

// register adds the flags to cmd; on is --wait's default and what says
// what waiting means for this command.
func (w *waitFlags) register(cmd *cobra.Command, on bool, what string) {
	cmd.Flags().BoolVar(&w.wait, "wait", on, what)
	cmd.Flags().DurationVar(&w.timeout, "timeout", defaultTimeout, "how long --wait waits")
}

// check refuses a timeout that would make --wait give up at once.
func (w *waitFlags) check() error {
	if w.timeout <= 0 {
		return usageErrorf("--timeout must be positive, got %s", w.timeout)
	}
	return nil
}
