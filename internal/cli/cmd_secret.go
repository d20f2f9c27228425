package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (r *runner) newSecretCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret",
		Short: "Manage an app's secrets (encrypted at rest, never shown again)",
		Long: `Manage an app's secrets. A value is encrypted at rest and never returned by
the server; a service receives the secrets it names in berth.yaml
(secrets: [NAME]) as environment variables. Changing a secret a service names
creates a release that rolls it out.`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(r.newSecretSetCmd(), r.newSecretListCmd(), r.newSecretRmCmd())
	return cmd
}

func (r *runner) newSecretSetCmd() *cobra.Command {
	var fromFile, fromEnv string
	cmd := &cobra.Command{
		Use:   "set APP NAME",
		Short: "Create or replace a secret; the value comes from stdin, a file or a variable",
		Example: `  berth secret set shop DB_PASSWORD                 # asks, without echo
  printf %s "$PW" | berth secret set shop DB_PASSWORD
  berth secret set shop TLS_KEY --from-file key.pem
  berth secret set shop API_KEY --from-env API_KEY`,
		Args: argsExactly("APP", "NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			value, err := r.readSecretValue(args[1], fromFile, fromEnv)
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.SetSecret(ctx, args[0], args[1], value)
			if err != nil {
				return notFound(err, args[0])
			}
			r.reportChange(args[0], res)
			return nil
		}),
	}
	cmd.Flags().StringVar(&fromFile, "from-file", "", "read the value from this file (kept byte for byte)")
	cmd.Flags().StringVar(&fromEnv, "from-env", "", "read the value from this environment variable")
	return cmd
}

func (r *runner) newSecretListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "list APP",
		Aliases: []string{"ls"},
		Short:   "List an app's secrets: names, versions and times (never values)",
		Args:    argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			list, err := c.ListSecrets(ctx, args[0])
			if err != nil {
				return notFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, list)
			}
			if len(list) == 0 {
				fmt.Fprintf(r.Stderr, "No secrets for %s yet; set one with \"berth secret set %s NAME\".\n", args[0], args[0])
				return nil
			}
			t := newTable(r.Stdout)
			row(t, "NAME", "VERSION", "CREATED", "UPDATED")
			for _, s := range list {
				row(t, s.Name, s.Version, age(r.Now(), s.CreatedAt), age(r.Now(), s.UpdatedAt))
			}
			return t.Flush()
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newSecretRmCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "rm APP NAME",
		Aliases: []string{"delete"},
		Short:   "Remove a secret no service names any more",
		Args:    argsExactly("APP", "NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.DeleteSecret(ctx, args[0], args[1]); err != nil {
				return notFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "secret %s of %s removed\n", args[1], args[0])
			return nil
		}),
	}
}
