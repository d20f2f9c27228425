package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/client"
)

// readCmd completes cmd as a read: it fetches one value with get and
// prints it as -o json|yaml asks, or as a table by render. Every plain
// show and list command is this shape; building them here keeps their
// flags, errors and output alike.
func readCmd[T any](r *runner, cmd *cobra.Command,
	get func(ctx context.Context, c *client.Client, args []string) (T, error),
	render func(w io.Writer, v T) error,
) *cobra.Command {
	var out outputFormat
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		c, err := r.client()
		if err != nil {
			return err
		}
		v, err := get(ctx, c, args)
		if err != nil {
			return err
		}
		if out != outputTable {
			return printData(r.Stdout, out, v)
		}
		return render(r.Stdout, v)
	})
	addOutputFlag(cmd, &out)
	return cmd
}
