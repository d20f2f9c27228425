package cli

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// Account management commands: berth user passwd|disable|enable and
// berth team rename, added to the user and team groups.

func (r *runner) newUserPasswdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd",
		Short: "Change your own password; your other sessions end",
		Long: `Change your own password. The current and the new password are asked
for on the terminal with echo off; without a terminal they are read from
standard input, one per line (current first). Never as flags: flags show
in ps and shell history.`,
		Example: `  berth user passwd
  printf '%s\n%s\n' "$OLD" "$NEW" | berth user passwd`,
		Args: argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			current, next, err := r.readPasswords()
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.ChangePassword(ctx, current, next); err != nil {
				return err
			}
			fmt.Fprintln(r.Stdout, "Password changed; your other sessions were signed out.")
			return nil
		}),
	}
}

// readPasswords reads the current and the new password: hidden prompts on
// a terminal, else two lines of standard input.
func (r *runner) readPasswords() (current, next string, err error) {
	if f, ok := r.Stdin.(*os.File); ok {
		if old, terr := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); terr == nil {
			if current, err = r.promptHidden(f, old, "your current password"); err != nil {
				return "", "", err
			}
			next, err = r.promptHidden(f, old, "the new password")
			return current, next, err
		}
	}
	br := bufio.NewReader(r.Stdin)
	lines := make([]string, 2)
	for i := range lines {
		line, _ := br.ReadString('\n')
		lines[i] = strings.TrimRight(line, "\r\n")
	}
	if lines[0] == "" || lines[1] == "" {
		return "", "", usageErrorf("standard input must hold two lines: the current password, then the new one")
	}
	return lines[0], lines[1], nil
}

func (r *runner) newUserAccessCmd(disable bool) *cobra.Command {
	verb, short := "enable", "Let a disabled user sign in again (platform admins)"
	if disable {
		verb, short = "disable", "Stop a user: their sessions and tokens fail from the next call on (platform admins)"
	}
	var out outputFormat
	cmd := &cobra.Command{
		Use:     verb + " USER",
		Short:   short,
		Example: "  berth user " + verb + " user_3f2a9c0d1e2b4a5c",
		Args:    argsExactly("USER"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			u, err := c.SetUserDisabled(ctx, args[0], disable)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, u)
			}
			fmt.Fprintf(r.Stdout, "User %s (%s) %sd.\n", u.Email, u.ID, verb)
			return nil
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newTeamRenameCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:     "rename TEAM NEW-NAME",
		Short:   "Rename a team (owners); its ID, apps and members stay",
		Example: "  berth team rename shop storefront",
		Args:    argsExactly("TEAM", "NEW-NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			t, err := c.RenameTeam(ctx, args[0], args[1])
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, t)
			}
			fmt.Fprintf(r.Stdout, "Team %s (%s) is now named %s; use the new name with --team.\n", args[0], t.ID, t.Name)
			return nil
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}
