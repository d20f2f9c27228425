package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
)

func (r *runner) newContextCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "List, switch and remove saved servers (contexts)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	var out outputFormat
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List saved contexts; * marks the current one",
		Args:    argsExactly(),
		RunE: r.run(func(context.Context, []string) error {
			_, cfg, err := r.config()
			if err != nil {
				return err
			}
			if out != outputTable {
				// Tokens stay in the file: output is often pasted.
				shown := Config{CurrentContext: cfg.CurrentContext}
				for _, c := range cfg.Contexts {
					shown.Contexts = append(shown.Contexts, Context{Name: c.Name, URL: c.URL})
				}
				return printData(r.Stdout, out, shown)
			}
			if len(cfg.Contexts) == 0 {
				fmt.Fprintln(r.Stderr, "No contexts; "+loginHint+".")
				return nil
			}
			return renderContexts(r.Stdout, cfg)
		}),
	}
	addOutputFlag(list, &out)

	use := &cobra.Command{
		Use:   "use NAME",
		Short: "Make NAME the current context",
		Args:  argsExactly("NAME"),
		RunE: r.run(func(_ context.Context, args []string) error {
			path, cfg, err := r.config()
			if err != nil {
				return err
			}
			if _, ok := cfg.Get(args[0]); !ok {
				return badInput(fmt.Errorf("no context named %q; see \"berth context list\"", args[0]), "")
			}
			cfg.CurrentContext = args[0]
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "Switched to context %q.\n", args[0])
			return nil
		}),
	}

	current := &cobra.Command{
		Use:   "current",
		Short: "Print the current context's name",
		Args:  argsExactly(),
		RunE: r.run(func(context.Context, []string) error {
			_, cfg, err := r.config()
			if err != nil {
				return err
			}
			if cfg.CurrentContext == "" {
				return failed(fmt.Errorf("no current context: %s", loginHint), "")
			}
			fmt.Fprintln(r.Stdout, cfg.CurrentContext)
			return nil
		}),
	}

	remove := &cobra.Command{
		Use:     "delete NAME",
		Aliases: []string{"rm"},
		Short:   "Forget a saved context and its token",
		Args:    argsExactly("NAME"),
		RunE: r.run(func(_ context.Context, args []string) error {
			path, cfg, err := r.config()
			if err != nil {
				return err
			}
			kept := cfg.Contexts[:0]
			for _, c := range cfg.Contexts {
				if c.Name != args[0] {
					kept = append(kept, c)
				}
			}
			if len(kept) == len(cfg.Contexts) {
				return badInput(fmt.Errorf("no context named %q; see \"berth context list\"", args[0]), "")
			}
			cfg.Contexts = kept
			if cfg.CurrentContext == args[0] {
				cfg.CurrentContext = ""
			}
			if err := saveConfig(path, cfg); err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "Deleted context %q.\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(list, use, current, remove)
	return cmd
}

// config reads the config file and returns it with its path.
func (r *runner) config() (string, *Config, error) {
	path, err := configPath(r.Getenv)
	if err != nil {
		return "", nil, err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return "", nil, err
	}
	return path, cfg, nil
}
