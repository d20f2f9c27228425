package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newClusterCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Add, list, show and remove the Kubernetes clusters Berth deploys to",
		Args:  argsExactly(),
	}
	cmd.AddCommand(r.newClusterAddCmd(), r.newClusterListCmd(), r.newClusterShowCmd(), r.newClusterRemoveCmd())
	return cmd
}

func (r *runner) newClusterAddCmd() *cobra.Command {
	var (
		kubeconfig, kubeContext string
		inCluster               bool
		out                     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "add NAME --kubeconfig FILE [--kube-context CONTEXT]",
		Short: "Add a cluster; the server checks it answers and accepts the credentials first",
		Long: `Add a Kubernetes cluster. Only the chosen context's cluster and user are sent
and stored (certificates inlined); the server checks that the cluster answers
and accepts the credentials before it stores them, and never sends them back.

  berth cluster add prod --kubeconfig ~/.kube/config --kube-context prod-admin
  berth cluster add here --in-cluster      # the server runs in the cluster

--kube-context picks the kubeconfig context (berth's own --context picks the
saved Berth server).`,
		Args: argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			req := api.ClusterRequest{Name: args[0], Context: kubeContext, InCluster: inCluster}
			switch {
			case inCluster && kubeconfig != "":
				return usageErrorf("--kubeconfig and --in-cluster exclude each other")
			case !inCluster && kubeconfig == "":
				return usageErrorf("--kubeconfig FILE is required (or --in-cluster)")
			case kubeconfig != "":
				b, err := readKubeconfig(r.Stdin, kubeconfig)
				if err != nil {
					return badInput(err, "")
				}
				req.Kubeconfig = string(b)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			fmt.Fprintf(r.Stderr, "Checking cluster %s ...\n", req.Name)
			got, err := c.AddCluster(ctx, req)
			if client.IsConflict(err) {
				return hint(err, "cluster %q already exists; see \"berth cluster show %s\", or remove it first", req.Name, req.Name)
			}
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, got)
			}
			return renderCluster(r.Stdout, got, r.Now())
		}),
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file (- for stdin)")
	cmd.Flags().StringVar(&kubeContext, "kube-context", "", "kubeconfig context (default: its current-context)")
	cmd.Flags().BoolVar(&inCluster, "in-cluster", false, "use the server's own service account (the server runs in the cluster)")
	addOutputFlag(cmd, &out)
	return cmd
}

// readKubeconfig reads the file, or stdin for "-", with a message that
// names the file.
func readKubeconfig(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig -: read stdin: %w", err)
		}
		return b, nil
	}
	if strings.HasPrefix(path, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			path = home + path[1:]
		}
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("--kubeconfig %s: no such file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", path, err)
	}
	return b, nil
}

func (r *runner) newClusterListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List clusters with their health, version, nodes and capacity",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			cs, err := c.ListClusters(ctx)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, cs)
			}
			if len(cs) == 0 {
				fmt.Fprintln(r.Stderr, `No clusters yet; add one with "berth cluster add NAME --kubeconfig FILE".`)
				return nil
			}
			tw := newTable(r.Stdout)
			row(tw, "NAME", "STATUS", "VERSION", "NODES", "CPU", "MEMORY", "SERVER", "AGE")
			for _, c := range cs {
				h := c.Health
				row(tw, c.Name, h.Status, dash(h.Version), fmt.Sprintf("%d/%d", h.ReadyNodes, h.Nodes),
					dash(h.AllocatableCPU), dash(h.AllocatableMemory), c.Server, age(r.Now(), c.CreatedAt))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, c := range cs {
				if c.Health.Message != "" {
					fmt.Fprintf(r.Stderr, "%s: %s\n", c.Name, oneLine(c.Health.Message))
				}
			}
			return nil
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newClusterShowCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "show NAME",
		Short: "Show a cluster's health, version, nodes and allocatable capacity",
		Args:  argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			got, err := c.GetCluster(ctx, args[0])
			if err != nil {
				return clusterNotFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, got)
			}
			if err := renderCluster(r.Stdout, got, r.Now()); err != nil {
				return err
			}
			if got.Health.Status != api.ClusterHealthy {
				return failed(fmt.Errorf("cluster %s is %s", got.Name, got.Health.Status), "")
			}
			return nil
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newClusterRemoveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Forget a cluster and its credentials (what runs on it keeps running)",
		Args:    argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.RemoveCluster(ctx, args[0]); err != nil {
				return clusterNotFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "Removed cluster %s.\n", args[0])
			return nil
		}),
	}
	return cmd
}

func clusterNotFound(err error, name string) error {
	if client.IsNotFound(err) {
		return hint(err, "cluster %q not found; see \"berth cluster list\"", name)
	}
	return err
}

func renderCluster(w io.Writer, c api.Cluster, now time.Time) error {
	h := c.Health
	tw := newTable(w)
	row(tw, "Name:", c.Name)
	row(tw, "Server:", c.Server)
	if c.InCluster {
		row(tw, "Credentials:", "in-cluster service account")
	} else {
		row(tw, "Context:", dash(c.Context))
	}
	row(tw, "Status:", h.Status)
	if h.Message != "" {
		row(tw, "Message:", oneLine(h.Message))
	}
	if h.Status == api.ClusterHealthy {
		row(tw, "Version:", h.Version)
		row(tw, "Nodes:", fmt.Sprintf("%d ready of %d", h.ReadyNodes, h.Nodes))
		row(tw, "Allocatable:", fmt.Sprintf("cpu %s, memory %s, pods %d", h.AllocatableCPU, h.AllocatableMemory, h.AllocatablePods))
	}
	row(tw, "Added:", age(now, c.CreatedAt)+" ago")
	return tw.Flush()
}
