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

func (r *runner) newEnvCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Create, list and remove environments (a namespace of a cluster)",
		Args:  argsExactly(),
	}
	cmd.AddCommand(r.newEnvCreateCmd(), r.newEnvUpdateCmd(), r.newEnvListCmd(), r.newEnvShowCmd(), r.newEnvRemoveCmd())
	return cmd
}

func (r *runner) newEnvCreateCmd() *cobra.Command {
	var (
		req api.EnvironmentRequest
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "create NAME --cluster CLUSTER --namespace NAMESPACE [--team TEAM] [--storage-class CLASS] [--routing gateway|gateway-api --gateway-parent GW] [--tls-secret S1,S2]",
		Short: "Create a team's environment on a cluster added with \"berth cluster add\"",
		Args:  argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			req.Name = args[0]
			switch {
			case req.Cluster == "":
				return usageErrorf("--cluster is required (see \"berth cluster list\")")
			case req.Namespace == "":
				return usageErrorf("--namespace is required")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			e, err := c.CreateEnvironment(ctx, req)
			if client.IsConflict(err) {
				return hint(err, "environment %q, or one on cluster %s namespace %s, already exists (perhaps in another team); choose another name or namespace", req.Name, req.Cluster, req.Namespace)
			}
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, e)
			}
			fmt.Fprintf(r.Stdout, "Created environment %s in team %s: cluster %s, namespace %s.\n", e.Name, e.Team, e.Cluster, e.Namespace)
			return nil
		}),
	}
	cmd.Flags().StringVar(&req.Cluster, "cluster", "", "cluster name")
	cmd.Flags().StringVar(&req.Team, "team", "", "team that owns the environment (default: your only team in which you may manage environments)")
	cmd.Flags().StringVar(&req.Namespace, "namespace", "", "Kubernetes namespace (created on first deploy if missing)")
	cmd.Flags().StringVar(&req.StorageClass, "storage-class", "", "storage class of volume claims (default: the cluster's)")
	cmd.Flags().StringVar(&req.Routing, "routing", "gateway",
		"how traffic reaches the apps: gateway (Berth's gateway in the namespace, one LoadBalancer for every app) or gateway-api (HTTPRoutes for the cluster's Gateway API implementation)")
	cmd.Flags().StringVar(&req.GatewayParent, "gateway-parent", "", "with --routing gateway-api: the Gateway the HTTPRoutes attach to, NAME or NAMESPACE/NAME")
	cmd.Flags().StringSliceVar(&req.TLSSecrets, "tls-secret", nil, tlsSecretUsage)
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newEnvListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List the environments of your teams",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			es, err := c.ListEnvironments(ctx)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, es)
			}
			if len(es) == 0 {
				fmt.Fprintln(r.Stderr, `No environments yet; create one with "berth env create NAME --cluster C --namespace NS".`)
				return nil
			}
			tw := newTable(r.Stdout)
			row(tw, "NAME", "TEAM", "CLUSTER", "NAMESPACE", "STORAGE CLASS", "ROUTING", "AGE")
			for _, e := range es {
				row(tw, e.Name, dash(e.Team), e.Cluster, e.Namespace, dash(e.StorageClass), dash(e.Routing), age(r.Now(), e.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newEnvShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show an environment",
		Args:  argsExactly("NAME"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) (api.Environment, error) {
			e, err := c.GetEnvironment(ctx, args[0])
			return e, envNotFound(err, args[0])
		},
		func(w io.Writer, e api.Environment) error {
			tw := newTable(w)
			row(tw, "Name:", e.Name)
			row(tw, "Team:", dash(e.Team))
			row(tw, "Cluster:", e.Cluster)
			row(tw, "Namespace:", e.Namespace)
			row(tw, "Storage class:", dash(e.StorageClass))
			row(tw, "Routing:", dash(e.Routing))
			if e.GatewayParent != "" {
				row(tw, "Gateway:", e.GatewayParent)
			}
			if len(e.TLSSecrets) > 0 {
				row(tw, "TLS secrets:", strings.Join(e.TLSSecrets, ", "))
			}
			row(tw, "Created:", age(r.Now(), e.CreatedAt)+" ago")
			if err := tw.Flush(); err != nil {
				return err
			}
			return printEnvStatus(w, e, r.Now())
		})
}

func (r *runner) newEnvRemoveCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove an environment (what runs in its namespace keeps running)",
		Args:    argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.RemoveEnvironment(ctx, args[0]); err != nil {
				return envNotFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "Removed environment %s.\n", args[0])
			return nil
		}),
	}
}

func envNotFound(err error, name string) error {
	if client.IsNotFound(err) {
		return hint(err, "environment %q not found; see \"berth env list\"", name)
	}
	return err
}
