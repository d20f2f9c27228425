package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/server"
)

// shimName is the hidden subcommand the local runtime starts per instance.
const shimName = "shim"

func newServerCmd() *cobra.Command {
	var (
		dataDir, listen, gatewayListen string
		gatewayTLS, certDir, accessLog string
		logLevel                       slog.Level
		sso                            ssoFlags
		secureCookies                  bool
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane, the gateway and the local runtime on this machine",
		Long: `Run the control plane, the gateway and the local runtime on this machine.

The data directory holds the database, source archives, builds, instance
logs and the admin token (<data-dir>/admin-token), which "berth login" needs.
Apps keep running when the server stops; the next server adopts them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				d, err := defaultDataDir(os.Getenv)
				if err != nil {
					return err
				}
				dataDir = d
			}
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find the berth binary for the shim: %w", err)
			}
			oidcCfg, err := sso.config(listen, os.Getenv)
			if err != nil {
				return err
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: logLevel}))
			return server.Run(cmd.Context(), server.Config{
				DataDir:          dataDir,
				Listen:           listen,
				GatewayListen:    gatewayListen,
				GatewayTLSListen: gatewayTLS,
				GatewayCertDir:   certDir,
				GatewayAccessLog: accessLog,
				ShimCommand:      []string{exe, shimName},
				Version:          version,
				Logger:           logger,
				OIDC:             oidcCfg,
				SecureCookies:    secureCookies,
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "",
		"where the server keeps its state (default $BERTH_DATA_DIR, else $XDG_DATA_HOME/berth or ~/.local/share/berth)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7700", "address of the API")
	cmd.Flags().StringVar(&gatewayListen, "gateway-listen", "127.0.0.1:8080", "address the gateway serves routes on (\"\" disables it)")
	cmd.Flags().StringVar(&gatewayTLS, "gateway-tls-listen", "", "address the gateway serves HTTPS and HTTP/2 on (\"\" disables it)")
	cmd.Flags().StringVar(&certDir, "gateway-cert-dir", "",
		"directory of NAME.crt + NAME.key pairs the HTTPS gateway serves by SNI (default: self-signed certificates, for local use)")
	cmd.Flags().StringVar(&accessLog, "gateway-access-log", "", "file the gateway appends JSON access lines to (\"-\": standard error; default none)")
	cmd.Flags().BoolVar(&secureCookies, "secure-cookies", false, "mark console cookies Secure on plain HTTP (when a TLS proxy fronts the API)")
	sso.register(cmd)
	cmd.Flags().TextVar(&logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	return cmd
}

// defaultDataDir is $BERTH_DATA_DIR, else $XDG_DATA_HOME/berth, else
// ~/.local/share/berth.
func defaultDataDir(getenv func(string) string) (string, error) {
	if d := getenv("BERTH_DATA_DIR"); d != "" {
		return d, nil
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "berth"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find a data dir: %w; pass --data-dir or set BERTH_DATA_DIR", err)
	}
	return filepath.Join(home, ".local", "share", "berth"), nil
}

// newShimCmd is the hidden `berth shim --dir D`. main runs the shim before
// cobra; this entry only documents it and catches `berth --flag shim`.
func newShimCmd() *cobra.Command {
	return &cobra.Command{
		Use:                shimName + " --dir DIR",
		Short:              "Supervise one instance (started by the server)",
		Hidden:             true,
		DisableFlagParsing: true,
		Run: func(_ *cobra.Command, args []string) {
			os.Exit(local.ShimMain(args))
		},
	}
}
