package cli

import (
	"context"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
)

func (r *runner) newVersionCmd() *cobra.Command {
	var (
		out        outputFormat
		clientOnly bool
	)
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client's and the server's versions",
		Args:  argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			v := versions{Client: api.Version{Version: r.Version, GoVersion: runtime.Version()}}
			var serverErr error
			if !clientOnly {
				c, err := r.client()
				if err == nil {
					var sv api.Version
					if sv, err = c.Version(ctx); err == nil {
						v.Server = &sv
					}
				}
				serverErr = err
			}
			// The client's version is printed even when the server cannot
			// be asked: it is often what the user came for.
			var err error
			if out == outputTable {
				err = renderVersions(r.Stdout, v)
			} else {
				err = printData(r.Stdout, out, v)
			}
			if serverErr != nil {
				return serverErr
			}
			return err
		}),
	}
	addOutputFlag(cmd, &out)
	cmd.Flags().BoolVar(&clientOnly, "client", false, "only the client's version; do not ask the server")
	return cmd
}
