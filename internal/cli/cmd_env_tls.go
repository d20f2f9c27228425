package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
)

const tlsSecretUsage = "kubernetes.io/tls Secrets in the namespace (yours, e.g. cert-manager's) the environment's gateway serves HTTPS with on port 443, by SNI; routing gateway only"

func (r *runner) newEnvUpdateCmd() *cobra.Command {
	var (
		secrets []string
		out     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "update NAME --tls-secret S1,S2",
		Short: "Change an environment's settings: the TLS Secrets its gateway serves HTTPS with",
		Long: `Change an environment's settings.

--tls-secret names kubernetes.io/tls Secrets in the environment's namespace.
The environment's gateway mounts each as NAME.crt and NAME.key, serves HTTPS
(and HTTP/2) with them by SNI, and its LoadBalancer Service gets port 443
beside 80. Berth never writes or deletes these Secrets: create them yourself
or with cert-manager; a renewed certificate rolls the gateway onto it.
--tls-secret "" removes HTTPS. "berth env show" reports a Secret that is
missing or not a certificate and key.`,
		Example: `  kubectl -n shop create secret tls shop-tls --cert shop.crt --key shop.key
  berth env update prod --tls-secret shop-tls
  berth env update prod --tls-secret ""    # plain HTTP only`,
		Args: argsExactly("NAME"),
	}
	// RunE is set here: it asks cmd which flags were given.
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		var req api.EnvironmentUpdate
		if !cmd.Flags().Changed("tls-secret") {
			return usageErrorf("nothing to change: give --tls-secret")
		}
		req.TLSSecrets = &secrets
		c, err := r.client()
		if err != nil {
			return err
		}
		e, err := c.UpdateEnvironment(ctx, args[0], req)
		if err != nil {
			return envNotFound(err, args[0])
		}
		if out != outputTable {
			return printData(r.Stdout, out, e)
		}
		if len(e.TLSSecrets) == 0 {
			fmt.Fprintf(r.Stdout, "Environment %s: no TLS Secrets; its gateway serves HTTP only.\n", e.Name)
		} else {
			fmt.Fprintf(r.Stdout, "Environment %s: its gateway serves HTTPS with %s; see \"berth env show %s\".\n", e.Name, strings.Join(e.TLSSecrets, ", "), e.Name)
		}
		return nil
	})
	cmd.Flags().StringSliceVar(&secrets, "tls-secret", nil, tlsSecretUsage+` ("" for none)`)
	addOutputFlag(cmd, &out)
	return cmd
}

// printEnvStatus prints what the routing reconciler last saw of the
// environment's gateway: its replicas, each TLS Secret, and the problems
// to fix.
func printEnvStatus(w io.Writer, e api.Environment, now time.Time) error {
	st := e.Status
	if st == nil {
		if e.Routing == api.RoutingGateway || e.Routing == "" {
			fmt.Fprintln(w, "\nGateway: not looked at yet.")
		}
		return nil
	}
	fmt.Fprintf(w, "\nGateway: %s, %d/%d ready", dash(st.Gateway), st.Ready, st.Replicas)
	if st.Image != "" {
		fmt.Fprintf(w, ", image %s", st.Image)
	}
	if !st.CheckedAt.IsZero() {
		fmt.Fprintf(w, " (checked %s ago)", age(now, st.CheckedAt))
	}
	fmt.Fprintln(w)
	if len(st.TLSSecrets) > 0 {
		tw := newTable(w)
		row(tw, "TLS SECRET", "SERVED", "NAMES", "EXPIRES", "ERROR")
		for _, s := range st.TLSSecrets {
			served, expires := "no", "-"
			if s.Served {
				served = "yes"
			}
			if !s.NotAfter.IsZero() {
				expires = s.NotAfter.UTC().Format(time.DateOnly)
			}
			row(tw, s.Name, served, dash(strings.Join(s.Names, ",")), expires, dash(s.Error))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, p := range st.Problems {
		fmt.Fprintf(w, "Problem: %s\n", p)
	}
	return nil
}
