// Package server wires the store, runtime, reconciler, API and gateway into
// the one process `berth server` runs.
package server

import (
	"log/slog"
	"time"

	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/pipeline/runner"
)

// Config is what `berth server` is started with.
type Config struct {
	// DataDir holds the database, blobs, builds, logs and the admin token.
	DataDir string
	// Database is a PostgreSQL URL (postgres://...) for the store; ""
	// keeps it in <DataDir>/berth.db (SQLite). Everything else stays in
	// DataDir either way. Several servers may share one PostgreSQL
	// database (and one DataDir): they elect a leader.
	Database string
	// LeaseDuration is how long the leader's lease lasts without renewal
	// (PostgreSQL only); 0 means leader.DefaultLeaseDuration. A dead
	// leader is replaced within about this long.
	LeaseDuration time.Duration
	// Listen is the API address, e.g. 127.0.0.1:7700.
	Listen string
	// GatewayListen is the address the gateway serves routes on
	// (e.g. 127.0.0.1:8080); "" disables it.
	GatewayListen string
	// GatewayTLSListen is the address the gateway serves HTTPS (and
	// HTTP/2) on; "" disables it.
	GatewayTLSListen string
	// GatewayCertDir holds the HTTPS certificates, NAME.crt with NAME.key,
	// chosen by SNI; "" serves self-signed certificates (local use).
	GatewayCertDir string
	// GatewayAccessLog is where the gateway writes JSON access lines: a
	// file path (appended to), "-" for standard error, "" for none.
	GatewayAccessLog string
	// ShimCommand starts an instance supervisor: the berth binary and "shim".
	ShimCommand []string
	// ShimEnv is added to the environment of started shims (tests use it to
	// make a test binary act as the shim).
	ShimEnv []string
	// MasterKeyFile holds the key secrets are encrypted with; "" means
	// <DataDir>/master.key, created (mode 0600) when absent. The
	// BERTH_MASTER_KEY environment variable wins over any file.
	MasterKeyFile string
	// LookupEnv reads the environment (os.LookupEnv when nil); tests set
	// BERTH_MASTER_KEY through it.
	LookupEnv func(string) (string, bool)
	// Version is reported by /api/v1/version.
	Version string
	// Pipelines configures the pipeline run driver.
	Pipelines PipelineConfig
	// Retention configures artifact expiry and blob garbage collection.
	Retention RetentionConfig
	// OIDC turns on single sign-on with an OpenID provider; nil leaves it
	// off. Its GroupRoles name teams by name. The provider must answer
	// discovery at start.
	OIDC *oidclogin.Config
	// SecureCookies marks console cookies Secure on plain HTTP too: set it
	// when a TLS-terminating proxy fronts the API.
	SecureCookies bool
	// AdvertiseURL is the API URL gateways in clusters reach the server
	// at; "" runs no gateway in environments' clusters (HTTPRoutes of
	// environments with routing gateway-api are written all the same).
	// Pipeline step pods send their artifacts there too; "" fails a
	// cluster step that keeps artifacts, saying so.
	AdvertiseURL string
	// ClusterGatewayImage is the berth image of those gateways; "" means
	// DefaultGatewayImage with the server's version.
	ClusterGatewayImage string
	// InClusterDir holds the service account (token, ca.crt) that
	// clusters added with --in-cluster are reached with; "" is the pod's
	// own, kubecluster.ServiceAccountDir. The API server's address comes
	// from KUBERNETES_SERVICE_HOST and _PORT, read through LookupEnv.
	// Tests set both; in a pod neither needs setting.
	InClusterDir string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// inCluster is where the server finds its service account.
func (c Config) inCluster() kubecluster.InClusterSource {
	return kubecluster.InClusterSource{Dir: c.InClusterDir, LookupEnv: c.LookupEnv}
}

// clusterAccess reaches the stored clusters, opening their credentials
// with creds.
func (c Config) clusterAccess(creds clusterCredentials) clusterAccess {
	return clusterAccess{creds: creds, inCluster: c.inCluster()}
}

// PipelineConfig is the pipeline run driver's part of Config.
type PipelineConfig struct {
	// WorkDir holds run workspaces; it must be outside DataDir. ""
	// means <temp dir>/berth-pipelines-<hash of DataDir>.
	WorkDir string
	// StepUser is who steps run as when the server is root ("" = nobody).
	StepUser string
	// PerPipeline and PerTeam cap concurrent runs (0: the defaults).
	PerPipeline, PerTeam int
	// StepParallelism caps the steps of one run running at once (0: the
	// default).
	StepParallelism int
	// AllowPrivateNotify lets notify steps post to loopback, link-local and
	// private addresses.
	AllowPrivateNotify bool
	// Secrets resolves step secrets; nil means no secret store (a step
	// naming a secret fails).
	Secrets runner.SecretResolver
	// DefaultImage runs the steps that name no image when a pipeline runs
	// on a cluster (executor.env); "" makes image: required there.
	DefaultImage string
	// CheckoutImage runs the pod that seeds a cluster run's workspace with
	// its commit (git and sh); "" means kube.DefaultCheckoutImage.
	CheckoutImage string
	// SweepEvery is how often the leader removes pipeline pods, Secrets
	// and workspace claims no live run owns from cluster environments (0:
	// runner.DefaultSweepEvery); it also sweeps when it starts leading.
	SweepEvery time.Duration
	// CacheTTL is how long a pipeline cache no step restored is kept (0:
	// runner.DefaultCacheTTL); the leader removes older ones.
	CacheTTL time.Duration
}

// DefaultCheckoutImage is the default of PipelineConfig.CheckoutImage.
const DefaultCheckoutImage = kube.DefaultCheckoutImage

// DefaultCacheTTL is the default of PipelineConfig.CacheTTL.
const DefaultCacheTTL = runner.DefaultCacheTTL

// DefaultGatewayImage is the repository of the image gateways in clusters
// run, tagged with the server's version.
const DefaultGatewayImage = "ghcr.io/berthdev/berth"

func (c Config) gatewayImage() string {
	if c.ClusterGatewayImage != "" {
		return c.ClusterGatewayImage
	}
	v := c.Version
	if v == "" || v == "dev" {
		v = "latest"
	}
	return DefaultGatewayImage + ":" + v
}
