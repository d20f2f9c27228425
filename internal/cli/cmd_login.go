package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/client"
)

func (r *runner) newLoginCmd() *cobra.Command {
	var (
		token string
		sso   bool
	)
	cmd := &cobra.Command{
		Use:   "login URL --token TOKEN | --sso",
		Short: "Check a token against a server and save both as the current context",
		Long: `Check a token against a server and save both as a context in
$XDG_CONFIG_HOME/berth/config.yaml (default ~/.config/berth/config.yaml, mode 0600),
then make it the current context. The context is named after the server's
host:port unless --context NAME is given.

The admin token of a local server is in <data-dir>/admin-token.

With --sso it signs in through your browser with the server's single
sign-on: a listener on 127.0.0.1 receives a one-time code that only this
process can redeem (PKCE), for a personal token valid 30 days.`,
		Example: `  berth login http://localhost:7700 --token "$(cat ~/.local/share/berth/admin-token)"
  berth login https://berth.example.com --sso`,
		Args: argsExactly("URL"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if sso {
				if token != "" {
					return usageErrorf("--sso and --token exclude each other")
				}
				u, err := url.Parse(normalizeURL(args[0]))
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return usageErrorf("URL must look like http://HOST:PORT, got %q", args[0])
				}
				tok, err := r.ssoLogin(ctx, u.String())
				if err != nil {
					return err
				}
				token = tok
			}
			return r.login(ctx, args[0], token)
		}),
	}
	cmd.Flags().StringVar(&token, "token", "", "API token (default $BERTH_TOKEN)")
	cmd.Flags().BoolVar(&sso, "sso", false, "sign in through the browser with the server's single sign-on")
	return cmd
}

func (r *runner) login(ctx context.Context, rawURL, token string) error {
	u, err := url.Parse(normalizeURL(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageErrorf("URL must look like http://HOST:PORT, got %q", rawURL)
	}
	if token == "" {
		token = r.Getenv("BERTH_TOKEN")
	}
	if token == "" {
		return usageErrorf("--token is required (the admin token of a local server is in <data-dir>/admin-token)")
	}
	base := u.String()
	// Version may answer without a token; listing apps proves the token works.
	if _, err := r.newClient(base, token).ListAppsPage(ctx, 1, ""); err != nil {
		if client.IsUnauthorized(err) {
			return failed(hint(err, "the server at %s rejected the token; check it and try again", base), "")
		}
		return err
	}
	name := r.contextName
	if name == "" {
		name = u.Host
	}
	path, err := configPath(r.Getenv)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	cfg.Set(Context{Name: name, URL: base, Token: token})
	cfg.CurrentContext = name
	if err := saveConfig(path, cfg); err != nil {
		return err
	}
	fmt.Fprintf(r.Stdout, "Logged in to %s; saved as context %q (now current).\n", base, name)
	return nil
}
