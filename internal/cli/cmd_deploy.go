package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newRollbackCmd() *cobra.Command {
	var (
		to int
		w  waitFlags
	)
	cmd := &cobra.Command{
		Use:     "rollback APP [--to N]",
		Short:   "Redeploy an earlier release (default: the one before the current) as a new release",
		Example: "  berth rollback shop\n  berth rollback shop --to 3",
		Args:    argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if to < 0 {
				return usageErrorf("--to must be a release number (1, 2, ...), got %d", to)
			}
			if err := w.check(); err != nil {
				return err
			}
			app := args[0]
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.Rollback(ctx, app, to)
			if err != nil {
				if client.IsNotFound(err) {
					return withNext(err, fmt.Sprintf("see \"berth releases %s\"", app))
				}
				return err
			}
			if !res.Created {
				fmt.Fprintf(r.Stdout, "app %s: unchanged (release %d)\n", res.App, res.Release)
			} else {
				of := to
				if rel, err := c.GetRelease(ctx, res.App, res.Release); err == nil && rel.RollbackOf != 0 {
					of = rel.RollbackOf
				}
				what := "rollback"
				if of != 0 {
					what = fmt.Sprintf("rollback to release %d", of)
				}
				kept := ""
				if res.KeepsInstancesOf != 0 {
					kept = fmt.Sprintf("; only what pipeline runs read changed, so the running instances of release %d stay (nothing restarts)", res.KeepsInstancesOf)
				}
				fmt.Fprintf(r.Stdout, "app %s: release %d created (%s)%s\n", res.App, res.Release, what, kept)
			}
			if !w.wait {
				return nil
			}
			return r.waitRelease(ctx, c, res.App, res.Release, res.Revision, w.timeout)
		}),
	}
	cmd.Flags().IntVar(&to, "to", 0, "release to redeploy (default: the last deployed one before the current)")
	w.register(cmd, true, "follow the rollout until the release is deployed or failed")
	return cmd
}

func (r *runner) newDeleteCmd() *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "delete APP",
		Short: "Stop an app's instances and remove it with its releases",
		Args:  argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			app := args[0]
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteApp(ctx, app); err != nil {
				return notFound(err, app)
			}
			if !w.wait {
				fmt.Fprintf(r.Stdout, "app %s: deleting\n", app)
				return nil
			}
			fmt.Fprintf(r.Stdout, "app %s: deleting\n", app)
			return r.waitDeleted(ctx, c, app, w.timeout)
		}),
	}
	w.register(cmd, false, "wait until the app's instances are stopped and it is gone")
	return cmd
}

func (r *runner) newLogsCmd() *cobra.Command {
	var (
		follow   bool
		tail     int
		instance string
	)
	cmd := &cobra.Command{
		Use:     "logs APP[/SERVICE]",
		Short:   "Print the output of an app's instances",
		Example: "  berth logs shop\n  berth logs shop/api -f --tail 50",
		Args:    argsExactly("APP[/SERVICE]"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			app, svc, err := splitAppService(args[0])
			if err != nil {
				return err
			}
			if tail < 0 {
				return usageErrorf("--tail must be 0 (all) or more, got %d", tail)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			rc, err := c.Logs(ctx, app, client.LogOptions{Service: svc, Instance: instance, Follow: follow, Tail: tail})
			if err != nil {
				if client.IsNotFound(err) {
					return withNext(err, fmt.Sprintf("see \"berth status %s\"", app))
				}
				return err
			}
			defer rc.Close()
			if _, err := io.Copy(r.Stdout, rc); err != nil && ctx.Err() == nil {
				return fmt.Errorf("read logs: %w", err)
			}
			// Ctrl-C ends a followed stream: that is how it is meant to end.
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until interrupted")
	cmd.Flags().IntVar(&tail, "tail", 0, "only the last N lines per instance (0: all)")
	cmd.Flags().StringVar(&instance, "instance", "", "only this instance (IDs are in \"berth status APP\")")
	return cmd
}
