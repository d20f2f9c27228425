package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newAppsCmd() *cobra.Command {
	var out outputFormat
	var limit int
	cmd := &cobra.Command{
		Use:     "apps",
		Aliases: []string{"ls"},
		Short:   "List apps with their release, phase and ready services",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if limit < 0 {
				return usageErrorf("--limit must be 0 (every app) or more, got %d", limit)
			}
			// The server answers a page at a time; ListAppsUpTo follows
			// the pages until limit apps, or all of them.
			apps, err := c.ListAppsUpTo(ctx, limit)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, apps)
			}
			if len(apps) == 0 {
				fmt.Fprintln(r.Stderr, `No apps yet; deploy one with "berth apply -f DIR".`)
				return nil
			}
			return renderApps(r.Stdout, apps, r.Now())
		}),
	}
	addOutputFlag(cmd, &out)
	cmd.Flags().IntVar(&limit, "limit", 0, "list at most this many apps, by name (0: every app)")
	return cmd
}

func (r *runner) newStatusCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status APP",
		Short: "Show an app's phase, conditions, services and instances",
		Args:  argsExactly("APP"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) (api.App, error) {
			a, err := c.GetApp(ctx, args[0])
			return a, notFound(err, args[0])
		},
		func(w io.Writer, a api.App) error { return renderStatus(w, a, r.Now()) })
}

func (r *runner) newReleasesCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "releases APP",
		Short: "List an app's releases, oldest first",
		Args:  argsExactly("APP"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) ([]api.Release, error) {
			rs, err := c.ListReleases(ctx, args[0])
			return rs, notFound(err, args[0])
		},
		func(w io.Writer, rs []api.Release) error { return renderReleases(w, rs, r.Now()) })
}

func (r *runner) newDiffCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "diff APP FROM TO",
		Short:   "Show how the spec changed between two releases (unified diff)",
		Example: "  berth diff shop 2 3",
		Args:    argsExactly("APP", "FROM", "TO"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			from, err := releaseNumber("FROM", args[1])
			if err != nil {
				return err
			}
			to, err := releaseNumber("TO", args[2])
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			d, err := c.Diff(ctx, args[0], from, to)
			if err != nil {
				return withNext(err, fmt.Sprintf("see \"berth releases %s\"", args[0]))
			}
			if out != outputTable {
				return printData(r.Stdout, out, d)
			}
			if strings.TrimSpace(d.Diff) == "" {
				fmt.Fprintf(r.Stdout, "Releases %d and %d of %s have the same spec.\n", from, to, args[0])
				return nil
			}
			fmt.Fprint(r.Stdout, d.Diff)
			if !strings.HasSuffix(d.Diff, "\n") {
				fmt.Fprintln(r.Stdout)
			}
			return nil
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}
