package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/gatewayd"
)

// gatewayFlags are the flags of `berth gateway`.
type gatewayFlags struct {
	server, token                string
	listen, tlsListen, certDir   string
	stateFile, accessLog, metric string
	env                          string
	logLevel                     slog.Level
}

func (r *runner) newGatewayCmd() *cobra.Command {
	var fl gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run a standalone gateway that follows a control plane's routes",
		Long: `Run a standalone gateway: the gateway "berth server" embeds, fed over the API.

It loads the control plane's routing table, follows its change log and loads
the table again after every change. When the control plane is down it keeps
serving the last table, and resumes from the last revision it saw once the
control plane is back. The last table is saved to a state file, so a gateway
started while the control plane is down serves it too. Any number of gateways
can follow one control plane.

The server and token come from --server and --token, else BERTH_URL and
BERTH_TOKEN, else the current context (see "berth login"). Prefer
BERTH_TOKEN to --token: other users of the machine can read command lines.`,
		Example: `  BERTH_TOKEN="$(cat ~/.local/share/berth/admin-token)" \
    berth gateway --server http://10.0.0.5:7700 --listen :80 --metrics-listen 127.0.0.1:9180`,
		Args: cobra.NoArgs,
		RunE: r.run(func(ctx context.Context, _ []string) error {
			return r.gateway(ctx, fl)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&fl.server, "server", "", "the control plane's API URL (default $BERTH_URL, else the current context)")
	f.StringVar(&fl.token, "token", "", "API token (default $BERTH_TOKEN, else the context's)")
	f.StringVar(&fl.listen, "listen", "127.0.0.1:8080", "address the gateway serves HTTP (and h2c) on (\"\" disables it)")
	f.StringVar(&fl.tlsListen, "tls-listen", "", "address the gateway serves HTTPS and HTTP/2 on (\"\" disables it)")
	f.StringVar(&fl.certDir, "cert-dir", "",
		"directory of NAME.crt + NAME.key pairs served by SNI on --tls-listen (default: self-signed certificates, for local use)")
	f.StringVar(&fl.stateFile, "state-file", "",
		"file the last table is saved to and served from when the control plane cannot be reached at start (default under $XDG_CACHE_HOME/berth/gateway/; \"-\": none)")
	f.StringVar(&fl.accessLog, "access-log", "", "file the gateway appends JSON access lines to (\"-\": standard error; default none)")
	f.StringVar(&fl.metric, "metrics-listen", "", "address serving /metrics, /healthz and /readyz (default none)")
	f.StringVar(&fl.env, "env", "", "follow only this environment's routes (the gateway Berth runs in an environment's cluster, with its gateway token)")
	f.TextVar(&fl.logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	return cmd
}

func (r *runner) gateway(ctx context.Context, fl gatewayFlags) error {
	if fl.listen == "" && fl.tlsListen == "" {
		return usageErrorf("nothing to serve: give --listen, --tls-listen or both")
	}
	t, err := r.gatewayTarget(fl.server, fl.token)
	if err != nil {
		return err
	}
	state := fl.stateFile
	switch state {
	case "-":
		state = ""
	case "":
		key := t.URL
		if fl.env != "" {
			key += "#env=" + fl.env
		}
		if state, err = gatewayd.DefaultStateFile(r.Getenv, key); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(r.Stderr, &slog.HandlerOptions{Level: fl.logLevel}))
	err = gatewayd.Run(ctx, gatewayd.Config{
		Server:        t.URL,
		Token:         t.Token,
		Env:           fl.env,
		UserAgent:     "berth-gateway/" + r.Version,
		Listen:        fl.listen,
		TLSListen:     fl.tlsListen,
		CertDir:       fl.certDir,
		StateFile:     state,
		AccessLog:     fl.accessLog,
		MetricsListen: fl.metric,
		Logger:        logger,
		Stderr:        r.Stderr,
	})
	if errors.Is(err, context.Canceled) {
		return nil // SIGINT or SIGTERM while starting: a clean stop
	}
	return err
}

// gatewayTarget resolves the control plane like every command (--context,
// the current context, BERTH_URL, BERTH_TOKEN), then --server and --token
// on top. A saved token goes only to the server it was saved for.
func (r *runner) gatewayTarget(server, token string) (target, error) {
	t, err := r.target()
	if server != "" {
		if u := normalizeURL(server); err != nil || t.URL != u {
			t = target{URL: u, Token: r.Getenv("BERTH_TOKEN")}
		}
	} else if err != nil {
		return target{}, err
	}
	if token != "" {
		t.Token = token
	}
	if t.Token == "" {
		return target{}, usageErrorf("no token for %s: pass --token, set BERTH_TOKEN or run \"berth login\"", t.URL)
	}
	return t, nil
}
