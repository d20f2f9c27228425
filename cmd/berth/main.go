// Command berth is Berth's one binary: the server (`berth server`), the
// instance supervisor it starts (`berth shim`) and the command line client
// (everything else, in internal/cli).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/runtime/local"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	// The shim is dispatched before anything else, and before the signal
	// handler below: it handles its own signals, and a supervisor must not
	// pay for the CLI's setup on every instance start.
	if len(os.Args) > 1 && os.Args[1] == shimName {
		os.Exit(local.ShimMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Execute(ctx, os.Args[1:], cli.Options{
		Version:  version,
		Commands: []*cobra.Command{newServerCmd(), newShimCmd(), newRestoreCmd()},
		Backup:   backupHooks(),
	})
	stop()
	os.Exit(code)
}
