package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/server"
)

// shimName is the hidden subcommand the local runtime starts per instance.
const shimName = "shim"

func newServerCmd() *cobra.Command {
	var (
		dataDir, listen, gatewayListen string
		gatewayTLS, certDir, accessLog string
		masterKeyFile, database        string
		logLevel                       slog.Level
		pipes                          server.PipelineConfig
		keep                           retentionFlags
		sso                            ssoFlags
		secureCookies                  bool
		leaseDuration                  time.Duration
		advertiseURL, gatewayImage     string
	)
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane, the gateway and the local runtime on this machine",
		Long: `Run the control plane, the gateway and the local runtime on this machine.

The data directory holds the database, source archives, builds, instance
logs and the admin token (<data-dir>/admin-token), which "berth login" needs.
Apps keep running when the server stops; the next server adopts them.

With --database postgres://... (or BERTH_DATABASE) the store is that
PostgreSQL database instead of <data-dir>/berth.db; everything else stays in
the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				d, err := defaultDataDir(os.Getenv)
				if err != nil {
					return err
				}
				dataDir = d
			}
			db, err := databaseURL(database, os.Getenv)
			if err != nil {
				return err
			}
			if pipes.SweepEvery < 0 {
				return cli.BadInput(fmt.Errorf("--pipeline-sweep-every: %s is negative; give a duration such as 10m (0 for the default)", pipes.SweepEvery))
			}
			ret, err := keep.config()
			if err != nil {
				return err
			}
			if err := checkPipelineLimits(pipes); err != nil {
				return err
			}
			if pipes.CacheTTL <= 0 {
				return cli.BadInput(fmt.Errorf("--pipeline-cache-ttl: %s is not positive; give a duration such as 168h (7 days)", pipes.CacheTTL))
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
				DataDir:             dataDir,
				Database:            db,
				Listen:              listen,
				GatewayListen:       gatewayListen,
				GatewayTLSListen:    gatewayTLS,
				GatewayCertDir:      certDir,
				GatewayAccessLog:    accessLog,
				MasterKeyFile:       masterKeyFile,
				ShimCommand:         []string{exe, shimName},
				Version:             version,
				Pipelines:           pipes,
				Retention:           ret,
				Logger:              logger,
				OIDC:                oidcCfg,
				SecureCookies:       secureCookies,
				LeaseDuration:       leaseDuration,
				AdvertiseURL:        advertiseURL,
				ClusterGatewayImage: gatewayImage,
			})
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "",
		"where the server keeps its state (default $BERTH_DATA_DIR, else $XDG_DATA_HOME/berth or ~/.local/share/berth)")
	cmd.Flags().StringVar(&database, "database", "",
		"PostgreSQL URL (postgres://user@host:5432/berth) to keep the store in, instead of <data-dir>/berth.db (default $BERTH_DATABASE)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:7700", "address of the API")
	cmd.Flags().StringVar(&gatewayListen, "gateway-listen", "127.0.0.1:8080", "address the gateway serves routes on (\"\" disables it)")
	cmd.Flags().StringVar(&gatewayTLS, "gateway-tls-listen", "", "address the gateway serves HTTPS and HTTP/2 on (\"\" disables it)")
	cmd.Flags().StringVar(&certDir, "gateway-cert-dir", "",
		"directory of NAME.crt + NAME.key pairs the HTTPS gateway serves by SNI (default: self-signed certificates, for local use)")
	cmd.Flags().StringVar(&accessLog, "gateway-access-log", "", "file the gateway appends JSON access lines to (\"-\": standard error; default none)")
	cmd.Flags().StringVar(&masterKeyFile, "master-key-file", "",
		"file holding the key secrets are encrypted with (default <data-dir>/master.key, created when absent; $BERTH_MASTER_KEY wins)")
	cmd.Flags().StringVar(&pipes.WorkDir, "pipeline-workdir", "",
		"where pipeline runs get their workspaces; must be outside the data dir (default <temp dir>/berth-pipelines-<hash of the data dir>)")
	cmd.Flags().StringVar(&pipes.StepUser, "pipeline-step-user", "",
		"user (name or uid:gid) pipeline steps run as when the server is root (default nobody)")
	cmd.Flags().StringVar(&pipes.DefaultImage, "pipeline-default-image", "",
		"image of pipeline steps that name none, when the pipeline runs on a cluster (executor.env); default none: such steps need image:")
	cmd.Flags().StringVar(&pipes.CheckoutImage, "pipeline-checkout-image", server.DefaultCheckoutImage,
		"image (with git and sh) of the pod that checks a run's commit out onto its workspace volume on a cluster")
	cmd.Flags().DurationVar(&pipes.SweepEvery, "pipeline-sweep-every", 0,
		"how often the leader removes pods, Secrets and workspace claims of pipeline runs that are not running from cluster environments (default 10m; it also sweeps every cluster environment when it starts leading)")
	cmd.Flags().DurationVar(&pipes.CacheTTL, "pipeline-cache-ttl", server.DefaultCacheTTL,
		"how long a pipeline cache (cache: of a step) that no step restored is kept, on the server's disk and in the blob store for cluster steps; the leader removes older ones every hour")
	cmd.Flags().IntVar(&pipes.PerPipeline, "pipeline-max-per-app", 0, "most runs of one app's pipeline at once (default 2)")
	cmd.Flags().IntVar(&pipes.PerTeam, "pipeline-max-per-team", 0, "most runs of one team's pipelines at once (default 8)")
	cmd.Flags().IntVar(&pipes.StepParallelism, "pipeline-max-parallel-steps", 0,
		"most steps of one run running at once; approval steps are not counted (default 8)")
	cmd.Flags().BoolVar(&pipes.AllowPrivateNotify, "pipeline-allow-private-notify", false,
		"let notify steps post to loopback, link-local and private addresses (off: pipelines cannot reach the server's network)")
	cmd.Flags().BoolVar(&secureCookies, "secure-cookies", false, "mark console cookies Secure on plain HTTP (when a TLS proxy fronts the API)")
	cmd.Flags().DurationVar(&leaseDuration, "lease-duration", 0,
		"with --database: how long the leader's lease lasts unrenewed, so about how long a dead leader takes to replace (default 6s; several servers may share one database, see docs/ha.md)")
	cmd.Flags().StringVar(&advertiseURL, "advertise-url", "",
		"the API URL gateways and pipeline step pods in clusters reach this server at (needed to run Berth's gateway in environments with routing gateway, and for artifacts of steps run on clusters)")
	cmd.Flags().StringVar(&gatewayImage, "cluster-gateway-image", "",
		"image of the gateway run in environments' clusters, and of the step agent of pipeline steps with artifacts there (default ghcr.io/berthdev/berth:<this version>, not published yet: build and push one with \"make image\", see docs/kubernetes.md)")
	keep.register(cmd)
	sso.register(cmd)
	cmd.Flags().TextVar(&logLevel, "log-level", slog.LevelInfo, "debug, info, warn or error")
	cmd.AddCommand(newRotateKeyCmd())
	return cmd
}

func newRotateKeyCmd() *cobra.Command {
	var dataDir, masterKeyFile, newKeyFile, database string
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Re-encrypt every secret under a new master key (with the server stopped)",
		Long: `Re-encrypt every secret under a new master key, in one transaction.

Stop the server first: rotation is offline, and refuses to run while a
server uses the data directory. With a key file (the default
<data-dir>/master.key) a new key is generated, written beside it as
master.key.new before anything is re-encrypted, and then swapped in; the old
key is kept as master.key.old until you remove it. With BERTH_MASTER_KEY,
give the new key with --new-key-file and set BERTH_MASTER_KEY to it before
starting the server again. Running it again after an interruption finishes
the job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataDir == "" {
				d, err := defaultDataDir(os.Getenv)
				if err != nil {
					return err
				}
				dataDir = d
			}
			db, err := databaseURL(database, os.Getenv)
			if err != nil {
				return err
			}
			res, err := server.RotateKey(cmd.Context(), server.RotateConfig{
				DataDir: dataDir, MasterKeyFile: masterKeyFile, NewKeyFile: newKeyFile, Database: db,
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "re-encrypted %d secrets and cluster credentials: key %s -> %s\n", res.Rotated, res.OldKeyID, res.NewKeyID)
			switch {
			case res.KeyFile == "":
				fmt.Fprintf(out, "now set BERTH_MASTER_KEY to the new key (the content of %s) and start the server\n", newKeyFile)
			default:
				fmt.Fprintf(out, "the new key is in %s; back it up. The old key is in %s: remove it once backups hold the new one\n", res.KeyFile, res.OldKeyFile)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "", "the server's data directory (default $BERTH_DATA_DIR, else $XDG_DATA_HOME/berth or ~/.local/share/berth)")
	cmd.Flags().StringVar(&masterKeyFile, "master-key-file", "", "the current key file (default <data-dir>/master.key)")
	cmd.Flags().StringVar(&newKeyFile, "new-key-file", "", "the key to move to (default: a new random key)")
	cmd.Flags().StringVar(&database, "database", "",
		"the server's PostgreSQL URL, when it uses one (default $BERTH_DATABASE, else <data-dir>/berth.db)")
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

// checkPipelineLimits refuses negative run and step limits: 0 means the
// default, and a negative one would silently mean it too.
func checkPipelineLimits(p server.PipelineConfig) error {
	for _, l := range []struct {
		flag, example string
		n             int
	}{
		{"--pipeline-max-per-app", "2", p.PerPipeline},
		{"--pipeline-max-per-team", "8", p.PerTeam},
		{"--pipeline-max-parallel-steps", "8", p.StepParallelism},
	} {
		if l.n < 0 {
			return cli.BadInput(fmt.Errorf("%s: %d is negative; give a count such as %s (0 for the default)", l.flag, l.n, l.example))
		}
	}
	return nil
}
