package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
)

func (r *runner) newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Manage an app's versioned configuration (env entries and files)",
		Long: `Manage an app's config set: environment entries and files every instance of
the app receives. Every change is a new version; a change its instances see
creates a release that rolls them (like "berth apply").`,
		Args: cobra.ArbitraryArgs,
		RunE: groupRunE,
	}
	cmd.AddCommand(r.newConfigSetCmd(), r.newConfigGetCmd(), r.newConfigHistoryCmd(),
		r.newConfigRollbackCmd(), r.newConfigDiffCmd())
	return cmd
}

func addEnvFlag(cmd *cobra.Command, env *string) {
	cmd.Flags().StringVar(env, "env", "", "environment of the config set (default \"default\")")
}

func (r *runner) newConfigSetCmd() *cobra.Command {
	var (
		env, comment       string
		files, unset, rmFs []string
	)
	cmd := &cobra.Command{
		Use:   "set APP [KEY=VALUE...]",
		Short: "Set, unset or replace entries and files as a new version",
		Example: `  berth config set shop LOG_LEVEL=debug FEATURE_X=on -m "debug the checkout"
  berth config set shop --file app.toml=./app.toml
  berth config set shop --unset FEATURE_X --remove-file old.toml`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("missing APP")
			}
			return nil
		},
		RunE: r.run(func(ctx context.Context, args []string) error {
			u := api.ConfigUpdate{Env: env, Unset: unset, RemoveFiles: rmFs, Comment: comment}
			for _, kv := range args[1:] {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usageErrorf("%q is not KEY=VALUE", kv)
				}
				if u.Set == nil {
					u.Set = map[string]string{}
				}
				u.Set[k] = v
			}
			for _, f := range files {
				name, path, ok := strings.Cut(f, "=")
				if !ok || name == "" || path == "" {
					return usageErrorf("--file %q is not NAME=PATH", f)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return badInput(fmt.Errorf("--file %s: %w", f, err), "")
				}
				if u.Files == nil {
					u.Files = map[string]string{}
				}
				u.Files[name] = string(b)
			}
			if len(u.Set) == 0 && len(u.Files) == 0 && len(u.Unset) == 0 && len(u.RemoveFiles) == 0 {
				return usageErrorf("nothing to change: give KEY=VALUE, --file, --unset or --remove-file")
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.SetConfig(ctx, args[0], u)
			if err != nil {
				return notFound(err, args[0])
			}
			r.reportChange(args[0], res)
			return nil
		}),
	}
	addEnvFlag(cmd, &env)
	cmd.Flags().StringArrayVar(&files, "file", nil, "add or replace a file: NAME=PATH (repeatable)")
	cmd.Flags().StringArrayVar(&unset, "unset", nil, "remove an entry (repeatable)")
	cmd.Flags().StringArrayVar(&rmFs, "remove-file", nil, "remove a file (repeatable)")
	cmd.Flags().StringVarP(&comment, "message", "m", "", "why: kept with the version")
	return cmd
}

// reportChange says what a config or secret write did and what rolls it out.
func (r *runner) reportChange(app string, res api.ConfigChange) {
	if res.Config != nil {
		fmt.Fprintf(r.Stdout, "config %s (%s) is at version %d\n", app, res.Config.Env, res.Config.Version)
	}
	if res.Secret != nil {
		fmt.Fprintf(r.Stdout, "secret %s of %s is at version %d\n", res.Secret.Name, app, res.Secret.Version)
	}
	switch {
	case res.Release > 0 && res.ReloadOf > 0:
		fmt.Fprintf(r.Stdout, "release %d reloads it live into the running instances of release %d (new files and a signal, no restart); follow it with \"berth status %s\"\n", res.Release, res.ReloadOf, app)
	case res.Release > 0:
		fmt.Fprintf(r.Stdout, "release %d rolls it out; follow it with \"berth status %s\"\n", res.Release, app)
	}
}

func (r *runner) newConfigGetCmd() *cobra.Command {
	var (
		env     string
		version int
		out     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "get APP",
		Short: "Show a version of the config set (the latest by default)",
		Args:  argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if version < 0 {
				return usageErrorf("--version must be 1, 2, ... (or 0 for the latest), got %d", version)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			cs, err := c.GetConfig(ctx, args[0], env, version)
			if err != nil {
				return notFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, cs)
			}
			if cs.Version == 0 {
				fmt.Fprintf(r.Stderr, "No config for %s (%s) yet; set some with \"berth config set %s KEY=VALUE\".\n", args[0], cs.Env, args[0])
				return nil
			}
			return renderConfig(r.Stdout, cs)
		}),
	}
	addEnvFlag(cmd, &env)
	cmd.Flags().IntVar(&version, "version", 0, "version to show (default: the latest)")
	addOutputFlag(cmd, &out)
	return cmd
}

func renderConfig(w io.Writer, cs api.ConfigSet) error {
	fmt.Fprintf(w, "# %s (%s) version %d", cs.App, cs.Env, cs.Version)
	if cs.Comment != "" {
		fmt.Fprintf(w, ": %s", oneLine(cs.Comment))
	}
	fmt.Fprintln(w)
	t := newTable(w)
	row(t, "KEY", "VALUE")
	keys := make([]string, 0, len(cs.Entries))
	for k := range cs.Entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		row(t, k, oneLine(cs.Entries[k]))
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if len(cs.Files) > 0 {
		t = newTable(w)
		row(t, "FILE", "BYTES")
		names := make([]string, 0, len(cs.Files))
		for n := range cs.Files {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			row(t, n, len(cs.Files[n]))
		}
		return t.Flush()
	}
	return nil
}

func (r *runner) newConfigHistoryCmd() *cobra.Command {
	var (
		env string
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "history APP",
		Short: "List every version of the config set, oldest first",
		Args:  argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			vs, err := c.ConfigHistory(ctx, args[0], env)
			if err != nil {
				return notFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, vs)
			}
			t := newTable(r.Stdout)
			row(t, "VERSION", "KEYS", "FILES", "AUTHOR", "AGE", "COMMENT")
			for _, v := range vs {
				comment := v.Comment
				if v.RollbackOf > 0 && comment == "" {
					comment = "rollback to " + strconv.Itoa(v.RollbackOf)
				}
				row(t, v.Version, v.Keys, v.Files, dash(v.Author), age(r.Now(), v.CreatedAt), dash(oneLine(comment)))
			}
			return t.Flush()
		}),
	}
	addEnvFlag(cmd, &env)
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newConfigRollbackCmd() *cobra.Command {
	var (
		env, comment string
		to           int
	)
	cmd := &cobra.Command{
		Use:   "rollback APP",
		Short: "Write an earlier version again as the newest (default: the one before the latest)",
		Args:  argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if to < 0 {
				return usageErrorf("--to must be a version (1, 2, ...), got %d", to)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.RollbackConfig(ctx, args[0], api.ConfigRollbackRequest{Env: env, To: to, Comment: comment})
			if err != nil {
				return notFound(err, args[0])
			}
			r.reportChange(args[0], res)
			return nil
		}),
	}
	addEnvFlag(cmd, &env)
	cmd.Flags().IntVar(&to, "to", 0, "version to go back to (default: the one before the latest)")
	cmd.Flags().StringVarP(&comment, "message", "m", "", "why: kept with the version")
	return cmd
}

func (r *runner) newConfigDiffCmd() *cobra.Command {
	var (
		env string
		out outputFormat
	)
	cmd := &cobra.Command{
		Use:   "diff APP [FROM [TO]]",
		Short: "Show what changed between two versions (default: the latest and the one before)",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("missing APP")
			}
			if len(args) > 3 {
				return fmt.Errorf("unexpected argument %q (expected APP [FROM [TO]])", args[3])
			}
			return nil
		},
		RunE: r.run(func(ctx context.Context, args []string) error {
			from, to := -1, -1
			for i, a := range args[1:] {
				n, err := strconv.Atoi(a)
				if err != nil || n < 0 {
					return usageErrorf("%s must be a version (0, 1, 2, ...), got %q", []string{"FROM", "TO"}[i], a)
				}
				if i == 0 {
					from = n
				} else {
					to = n
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			d, err := c.DiffConfig(ctx, args[0], env, from, to)
			if err != nil {
				return notFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, d)
			}
			fmt.Fprintf(r.Stdout, "# %s (%s) version %d -> %d\n", d.App, d.Env, d.From, d.To)
			if len(d.Changes) == 0 {
				fmt.Fprintln(r.Stdout, "no changes")
				return nil
			}
			for _, ch := range d.Changes {
				name := ch.Name
				if ch.Kind == "file" {
					name = "file " + name
				}
				switch ch.Op {
				case "added":
					fmt.Fprintf(r.Stdout, "+ %s=%s\n", name, oneLine(ch.New))
				case "removed":
					fmt.Fprintf(r.Stdout, "- %s=%s\n", name, oneLine(ch.Old))
				default:
					fmt.Fprintf(r.Stdout, "~ %s: %s -> %s\n", name, oneLine(ch.Old), oneLine(ch.New))
				}
			}
			return nil
		}),
	}
	addEnvFlag(cmd, &env)
	addOutputFlag(cmd, &out)
	return cmd
}
