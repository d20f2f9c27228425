// Package cli implements the berth command line client: every command
// except `server` and `shim`, which cmd/berth adds because they pull in the
// whole server. It talks to the server only through pkg/client (`berth
// gateway` too: internal/gatewayd follows the server with it).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Options is what Execute needs from the process; tests fill it with
// buffers and a fake environment.
type Options struct {
	// Version is the client's version string (set with -ldflags -X).
	Version string
	Stdin   io.Reader
	Stdout  io.Writer
	Stderr  io.Writer
	// Getenv reads the environment (BERTH_URL, BERTH_TOKEN, XDG_CONFIG_HOME...).
	Getenv func(string) string
	// Now is the clock for ages in tables.
	Now func() time.Time
	// PollInterval is how often waiting commands re-read the app when the
	// watch stream is quiet (default 1s).
	PollInterval time.Duration
	// OpenBrowser opens a URL for `berth login --sso`; nil runs xdg-open
	// (open on macOS). Tests play the browser here.
	OpenBrowser func(url string) error
	// Commands are added to the root command (cmd/berth adds server and
	// shim). Their errors are mapped to exit codes like the built-in ones.
	Commands []*cobra.Command
	// Backup gives `berth backup` what it cannot do over the API.
	Backup BackupHooks
}

func (o *Options) setDefaults() {
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Stdin == nil {
		o.Stdin = os.Stdin
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
}

// runner is the state of one invocation, shared by the commands.
type runner struct {
	Options
	// contextName is --context: which saved context to use (or, for login,
	// to save).
	contextName string
	// team is apply's --team.
	team string
}

// Execute runs the command line args (without the program name) and
// returns the process exit code: 0 success, 1 failure, 2 bad input. ctx is
// cancelled on SIGINT/SIGTERM by the caller.
func Execute(ctx context.Context, args []string, opts Options) int {
	opts.setDefaults()
	r := &runner{Options: opts}
	root := r.newRoot()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		// Not from a command's RunE, so from cobra's own checks: unknown
		// command or flag, wrong number of arguments, missing required flag.
		ee = &exitError{code: ExitBadInput, err: &usageError{err}}
	}
	if errors.Is(ee.err, errQuiet) {
		return ee.code
	}
	fmt.Fprintf(r.Stderr, "error: %v\n", ee.err)
	if ee.detail != "" {
		fmt.Fprintln(r.Stderr, ee.detail)
	}
	var ue *usageError
	if errors.As(ee, &ue) && cmd != nil {
		fmt.Fprintf(r.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return ee.code
}

func (r *runner) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "berth",
		Short: "Berth builds, deploys, routes and releases apps declared in berth.yaml",
		Long: `Berth builds, deploys, routes and releases apps declared in berth.yaml.

Start a server with "berth server", log in with "berth login URL --token TOKEN",
then deploy with "berth apply -f DIR".`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// No Args: cobra's default for the root reports unknown commands
		// with suggestions.
	}
	root.SetIn(r.Stdin)
	root.SetOut(r.Stdout)
	root.SetErr(r.Stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return &exitError{code: ExitBadInput, err: &usageError{err}}
	})
	root.PersistentFlags().StringVar(&r.contextName, "context", "",
		"saved context to use (see \"berth context list\"); for login, the name to save")
	root.AddGroup(
		&cobra.Group{ID: "deploy", Title: "Deploy commands:"},
		&cobra.Group{ID: "inspect", Title: "Inspect commands:"},
		&cobra.Group{ID: "pipelines", Title: "Pipeline commands:"},
		&cobra.Group{ID: "setup", Title: "Setup commands:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add("deploy", r.newApplyCmd(), r.newValidateCmd(), r.newRolloutCmd(), r.newPromoteCmd(), r.newAbortCmd(),
		r.newRollbackCmd(), r.newDeleteCmd(), r.newConfigCmd(), r.newSecretCmd())
	add("inspect", r.newAppsCmd(), r.newStatusCmd(), r.newReleasesCmd(), r.newDiffCmd(), r.newLogsCmd())
	add("pipelines", r.newPipelineCmd(), r.newRunCmd(), r.newApproveCmd(), r.newRejectCmd())
	add("setup", r.newLoginCmd(), r.newContextCmd(), r.newVersionCmd(), r.newGatewayCmd(), r.newClusterCmd(), r.newEnvCmd())
	add("setup", r.newBackupCmd())
	root.AddGroup(&cobra.Group{ID: "identity", Title: "Teams and access:"})
	add("identity", r.newWhoamiCmd(), r.newTeamCmd(), r.newUserCmd(), r.newInviteCmd(), r.newRoleCmd(), r.newTokenCmd(), r.newAuditCmd())
	root.AddCommand(r.newStepAgentCmd())
	for _, c := range r.Commands {
		r.wrapRunE(c)
		if !c.Hidden {
			c.GroupID = "setup"
		}
		root.AddCommand(c)
	}
	return root
}

// wrapRunE maps the errors of commands added from outside to exit codes.
func (r *runner) wrapRunE(c *cobra.Command) {
	if fn := c.RunE; fn != nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := fn(cmd, args); err != nil {
				return r.classify(err)
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		r.wrapRunE(sub)
	}
}

// run adapts a command body to cobra, mapping its error to an exit code.
func (r *runner) run(fn func(ctx context.Context, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := fn(cmd.Context(), args); err != nil {
			return r.classify(err)
		}
		return nil
	}
}

// groupRunE lets a command that only groups subcommands ("context")
// reject unknown subcommands; without a Run, cobra prints help for them and
// exits 0.
func groupRunE(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return cmd.Help()
}
