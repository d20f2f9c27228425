package cli

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// Teams, users, invitations, roles, tokens and the audit log.

var roleNames = []string{"viewer", "developer", "admin", "owner"}

func checkRole(flag, role string) error {
	for _, r := range roleNames {
		if role == r {
			return nil
		}
	}
	return usageErrorf("%s must be one of %s, got %q", flag, strings.Join(roleNames, ", "), role)
}

// parseExpiry reads a duration with a day unit too ("30d", "12h").
func parseExpiry(flag, v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 1 {
			return "", usageErrorf("%s must be a duration such as 30d or 12h, got %q", flag, v)
		}
		return (time.Duration(days) * 24 * time.Hour).String(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return "", usageErrorf("%s must be a duration such as 30d or 12h, got %q", flag, v)
	}
	return d.String(), nil
}

func (r *runner) newWhoamiCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the server takes you for: user, token scope, team roles",
		Args:  argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			w, err := c.Whoami(ctx)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, w)
			}
			tw := newTable(r.Stdout)
			row(tw, "USER", "EMAIL", "TOKEN", "SCOPE", "PLATFORM ADMIN")
			row(tw, dash(w.User), dash(w.Email), dash(w.Token), dash(w.Scope), w.PlatformAdmin)
			if err := tw.Flush(); err != nil {
				return err
			}
			tw = newTable(r.Stdout)
			row(tw, "TEAM", "ROLE")
			for team, role := range w.Teams {
				row(tw, team, role)
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newTeamCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "team", Short: "Create and list teams, show members", Args: cobra.ArbitraryArgs, RunE: groupRunE}
	var out outputFormat
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a team (platform admins); you become its owner",
		Args:  argsExactly("NAME"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			t, err := c.CreateTeam(ctx, args[0])
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, t)
			}
			fmt.Fprintf(r.Stdout, "Created team %s (%s).\n", t.Name, t.ID)
			return nil
		}),
	}
	addOutputFlag(create, &out)
	var listOut outputFormat
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your teams with your role in each",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ts, err := c.ListTeams(ctx)
			if err != nil {
				return err
			}
			if listOut != outputTable {
				return printData(r.Stdout, listOut, ts)
			}
			tw := newTable(r.Stdout)
			row(tw, "NAME", "ID", "ROLE", "AGE")
			for _, t := range ts {
				row(tw, t.Name, t.ID, t.Role, age(r.Now(), t.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(list, &listOut)
	var memOut outputFormat
	members := &cobra.Command{
		Use:   "members TEAM",
		Short: "List a team's members and their roles",
		Args:  argsExactly("TEAM"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ms, err := c.ListMembers(ctx, args[0])
			if err != nil {
				return err
			}
			if memOut != outputTable {
				return printData(r.Stdout, memOut, ms)
			}
			tw := newTable(r.Stdout)
			row(tw, "USER", "EMAIL", "ROLE", "SOURCE", "AGE")
			for _, m := range ms {
				row(tw, m.User, dash(m.Email), m.Role, m.Source, age(r.Now(), m.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(members, &memOut)
	cmd.AddCommand(create, list, members)
	cmd.AddCommand(r.newTeamRenameCmd())
	return cmd
}

func (r *runner) newUserCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "user", Short: "Create and list users (platform admins)", Args: cobra.ArbitraryArgs, RunE: groupRunE}
	var (
		name          string
		pwStdin, padm bool
		out           outputFormat
	)
	create := &cobra.Command{
		Use:   "create EMAIL",
		Short: "Create a local user; the password is read from standard input with --password-stdin",
		Example: `  berth user create ann@example.com --name "Ann" --password-stdin < pw.txt
  berth user create sso-only@example.com`,
		Args: argsExactly("EMAIL"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			req := api.CreateUserRequest{Email: args[0], Name: name, PlatformAdmin: padm}
			if pwStdin {
				line, err := bufio.NewReader(r.Stdin).ReadString('\n')
				line = strings.TrimRight(line, "\r\n")
				if line == "" {
					return usageErrorf("--password-stdin: no password on standard input (%v)", err)
				}
				req.Password = line
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(ctx, req)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, u)
			}
			fmt.Fprintf(r.Stdout, "Created user %s (%s); add them to a team with \"berth invite TEAM --role ROLE\".\n", u.Email, u.ID)
			return nil
		}),
	}
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from standard input (never from a flag: flags show in ps)")
	create.Flags().BoolVar(&padm, "platform-admin", false, "make the user a platform admin (owner in every team)")
	addOutputFlag(create, &out)
	var listOut outputFormat
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List users",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			us, err := c.ListUsers(ctx)
			if err != nil {
				return err
			}
			if listOut != outputTable {
				return printData(r.Stdout, listOut, us)
			}
			tw := newTable(r.Stdout)
			row(tw, "ID", "EMAIL", "NAME", "LOGIN", "PLATFORM ADMIN", "AGE")
			for _, u := range us {
				var login []string
				if u.Password {
					login = append(login, "password")
				}
				if u.SSO {
					login = append(login, "sso")
				}
				row(tw, u.ID, u.Email, dash(u.Name), dash(strings.Join(login, ",")), u.PlatformAdmin, age(r.Now(), u.CreatedAt))
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(list, &listOut)
	cmd.AddCommand(create, list)
	cmd.AddCommand(r.newUserPasswdCmd(), r.newUserAccessCmd(true), r.newUserAccessCmd(false))
	return cmd
}

func (r *runner) newInviteCmd() *cobra.Command {
	var (
		role, email, expires string
		out                  outputFormat
	)
	cmd := &cobra.Command{
		Use:   "invite TEAM --role ROLE [--email E] [--expires D]",
		Short: "Invite someone into a team; prints a single-use code for \"berth invite accept\"",
		Example: `  berth invite shop --role developer --email ann@example.com --expires 3d
  berth invite accept berth_inv_...`,
		Args: argsExactly("TEAM"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRole("--role", role); err != nil {
				return err
			}
			exp, err := parseExpiry("--expires", expires)
			if err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			inv, err := c.Invite(ctx, args[0], api.CreateInvitationRequest{Role: role, Email: email, ExpiresIn: exp})
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, inv)
			}
			fmt.Fprintf(r.Stdout, "Invitation to %s as %s, valid until %s. Send this code (shown once):\n%s\nThey run: berth invite accept CODE\n",
				inv.Team, inv.Role, inv.ExpiresAt.Local().Format(time.RFC1123), inv.Token)
			return nil
		}),
	}
	cmd.Flags().StringVar(&role, "role", "", "role in the team: viewer, developer, admin or owner (required)")
	cmd.Flags().StringVar(&email, "email", "", "only the user with this email may accept")
	cmd.Flags().StringVar(&expires, "expires", "", "how long the code is valid (default 7d, at most 30d)")
	_ = cmd.MarkFlagRequired("role")
	addOutputFlag(cmd, &out)
	accept := &cobra.Command{
		Use:   "accept CODE",
		Short: "Join the team of an invitation, with its role",
		Args:  argsExactly("CODE"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			inv, err := c.AcceptInvitation(ctx, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "Joined team %s as %s.\n", inv.Team, inv.Role)
			return nil
		}),
	}
	cmd.AddCommand(accept)
	return cmd
}

func (r *runner) newRoleCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "role", Short: "Change members' roles", Args: cobra.ArbitraryArgs, RunE: groupRunE}
	set := &cobra.Command{
		Use:     "set TEAM USER ROLE",
		Short:   "Set a member's role (at most your own)",
		Example: "  berth role set shop user_1a2b3c developer",
		Args:    argsExactly("TEAM", "USER", "ROLE"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRole("ROLE", args[2]); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			m, err := c.SetRole(ctx, args[0], args[1], args[2])
			if err != nil {
				return err
			}
			fmt.Fprintf(r.Stdout, "%s is now %s in %s.\n", m.User, m.Role, m.Team)
			return nil
		}),
	}
	cmd.AddCommand(set)
	return cmd
}

func (r *runner) newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens", Args: cobra.ArbitraryArgs, RunE: groupRunE}
	var (
		name, scope, expires, team, role string
		out                              outputFormat
	)
	create := &cobra.Command{
		Use:   "create --scope read|deploy|admin [--expires D] [--team T --role R]",
		Short: "Create a token (shown once): personal, or with --team a team token for CI",
		Example: `  berth token create --name laptop --scope admin --expires 30d
  berth token create --name ci-shop --scope deploy --team shop --role developer`,
		Args: argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			switch scope {
			case "read", "deploy", "admin":
			default:
				return usageErrorf("--scope must be read, deploy or admin, got %q", scope)
			}
			if (team == "") != (role == "") {
				return usageErrorf("--team and --role go together (a team token has a role; a personal token acts with yours)")
			}
			if role != "" {
				if err := checkRole("--role", role); err != nil {
					return err
				}
			}
			exp, err := parseExpiry("--expires", expires)
			if err != nil {
				return err
			}
			if name == "" {
				name = "cli"
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			t, err := c.CreateToken(ctx, api.CreateTokenRequest{Name: name, Scope: scope, Team: team, Role: role, ExpiresIn: exp})
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, t)
			}
			fmt.Fprintf(r.Stderr, "Created %s token %s (%s, scope %s). It is shown once; store it now:\n", t.Kind, t.ID, t.Name, t.Scope)
			fmt.Fprintln(r.Stdout, t.Token)
			return nil
		}),
	}
	create.Flags().StringVar(&name, "name", "", "what the token is for (default \"cli\")")
	create.Flags().StringVar(&scope, "scope", "", "read, deploy or admin (required)")
	create.Flags().StringVar(&expires, "expires", "", "lifetime such as 30d or 12h (default: never expires)")
	create.Flags().StringVar(&team, "team", "", "make a team token of this team")
	create.Flags().StringVar(&role, "role", "", "the team token's role (at most yours)")
	_ = create.MarkFlagRequired("scope")
	addOutputFlag(create, &out)

	var listOut outputFormat
	list := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your tokens and the team tokens you manage (never the tokens themselves)",
		Args:    argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ts, err := c.ListTokens(ctx)
			if err != nil {
				return err
			}
			if listOut != outputTable {
				return printData(r.Stdout, listOut, ts)
			}
			tw := newTable(r.Stdout)
			row(tw, "ID", "NAME", "TOKEN", "TEAM", "ROLE", "SCOPE", "EXPIRES", "LAST USED", "STATE")
			now := r.Now()
			for _, t := range ts {
				state := "active"
				switch {
				case !t.RevokedAt.IsZero():
					state = "revoked"
				case !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt):
					state = "expired"
				}
				expires := "never"
				if !t.ExpiresAt.IsZero() {
					expires = t.ExpiresAt.Local().Format("2006-01-02 15:04")
				}
				row(tw, t.ID, t.Name, t.Display, dash(t.Team), dash(t.Role), t.Scope, expires, age(now, t.LastUsedAt), state)
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(list, &listOut)
	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token; the next call with it is refused",
		Args:  argsExactly("ID"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			if err := c.RevokeToken(ctx, args[0]); err != nil {
				return withNext(err, "see \"berth token list\"")
			}
			fmt.Fprintf(r.Stdout, "Revoked token %s.\n", args[0])
			return nil
		}),
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func (r *runner) newAuditCmd() *cobra.Command {
	var (
		team, since string
		limit       int
		out         outputFormat
	)
	cmd := &cobra.Command{
		Use:   "audit [--team T] [--since 24h|TIME]",
		Short: "Show the audit log of your teams (admins and owners)",
		Example: `  berth audit --team shop --since 24h
  berth audit -o json | jq .
  berth audit verify`,
		Args: argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			if limit < 0 || limit > 1000 {
				return usageErrorf("--limit must be between 1 and 1000, got %d", limit)
			}
			if since != "" {
				if _, err := time.Parse(time.RFC3339, since); err != nil {
					exp, err := parseExpiry("--since", since)
					if err != nil {
						return err
					}
					since = exp
				}
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			recs, err := c.ListAudit(ctx, client.AuditQuery{Team: team, Since: since, Limit: limit})
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, recs)
			}
			tw := newTable(r.Stdout)
			row(tw, "SEQ", "TIME", "ACTOR", "ACTION", "OBJECT", "OUTCOME", "SOURCE")
			for _, x := range recs {
				row(tw, x.Seq, x.Time.Local().Format(time.RFC3339), x.Actor, x.Action, dash(x.Object), x.Outcome, dash(x.SourceIP))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&team, "team", "", "only this team's records")
	cmd.Flags().StringVar(&since, "since", "", "only records since this RFC 3339 time or this long ago (24h, 7d)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many records (default 1000)")
	addOutputFlag(cmd, &out)
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's hash chain (platform admins); exit 1 when it is broken",
		Args:  argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			v, err := c.VerifyAudit(ctx)
			if err != nil {
				return err
			}
			if !v.OK {
				return failed(fmt.Errorf("the audit chain is broken at seq %d: %s", v.BrokenSeq, v.Reason), "")
			}
			fmt.Fprintf(r.Stdout, "The audit chain holds: %d records, head seq %d hash %s. Publish the head somewhere the database's writers cannot reach.\n",
				v.Records, v.HeadSeq, v.Head)
			return nil
		}),
	}
	cmd.AddCommand(verify)
	return cmd
}
