// Package spec holds the berth.yaml types, their parsing, defaults and
// validation. Every error it returns names the field path that is wrong and
// what was expected, so the CLI and the API can show it unchanged.
//
// docs/spec.md is the user's reference for these types; after Parse every
// default is filled in (see defaults.go), so readers need not repeat them.
package spec

import (
	"encoding/json"
	"path"
	"time"
)

// App is one berth.yaml: a set of services, routes and a release strategy.
type App struct {
	Name     string              `json:"name"`
	Source   *Source             `json:"source,omitempty"`
	Services map[string]*Service `json:"services"`
	Routes   []Route             `json:"routes,omitempty"`
	Strategy Strategy            `json:"strategy,omitempty"`
	// Pipeline is the pipeline section (the shape of .berth/pipeline.yaml)
	// as the canonical JSON its reader made of it (see ParseOptions); nil
	// when berth.yaml has none. It is last so that specs without one keep
	// the canonical bytes, and so the release hashes, they had before.
	Pipeline json.RawMessage `json:"pipeline,omitempty"`
}

// Source says where pipelines fetch the app's code from.
type Source struct {
	Git    string `json:"git"`
	Branch string `json:"branch,omitempty"`
	// Pipeline is the pipeline file's path in the repository; "" means
	// DefaultPipelineFile.
	Pipeline string `json:"pipeline,omitempty"`
	// Secret names the app's secret (berth secret set) holding what a
	// private repository asks for: an access token for an http(s) URL, a
	// PEM private key for an ssh one. The spec holds only the name.
	Secret string `json:"secret,omitempty"`
	// Username goes with the token over http(s); forges ignore it for
	// tokens, but some servers need one (GitLab accepts "oauth2").
	Username string `json:"username,omitempty"`
	// KnownHosts is known_hosts text naming the SSH server's host key:
	// required with a key, as an unknown host key is never trusted.
	KnownHosts string `json:"known_hosts,omitempty"`
	// Status names the forge pipelines report commit status to: github,
	// gitea or gitlab; "" reports nothing. It posts with the token in
	// Secret.
	Status string `json:"status,omitempty"`
	// StatusURL is the forge's API base (https://api.github.com,
	// https://gitea.example.com/api/v1, https://gitlab.example.com/api/v4);
	// "" derives it from Git.
	StatusURL string `json:"status_url,omitempty"`
}

// Forges pipelines can report commit status to.
var Forges = []string{"github", "gitea", "gitlab"}

// DefaultPipelineFile is where a repository keeps its pipeline unless
// source.pipeline says otherwise.
const DefaultPipelineFile = ".berth/pipeline.yaml"

// PipelinePath is the pipeline file's path in the repository.
func (s *Source) PipelinePath() string {
	if s == nil || s.Pipeline == "" {
		return DefaultPipelineFile
	}
	return path.Clean(s.Pipeline)
}

// Service is one component of an app.
type Service struct {
	// Build is a shell command run in Dir before the service starts (local runtime).
	Build string `json:"build,omitempty"`
	// Dir is the service's source folder, relative to the folder holding berth.yaml.
	Dir     string            `json:"dir,omitempty"`
	Image   string            `json:"image,omitempty"`
	Command []string          `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Ports   []Port            `json:"ports,omitempty"`
	// Replicas is a pointer so that an explicit 0 (declared but stopped)
	// differs from unset (DefaultReplicas); see ReplicaCount.
	Replicas  *int      `json:"replicas,omitempty"`
	Health    *Health   `json:"health,omitempty"`
	Resources Resources `json:"resources,omitempty"`
	Volumes   []Volume  `json:"volumes,omitempty"`
	DependsOn []string  `json:"depends_on,omitempty"`
	// Secrets names the app's secrets (berth secret set) this service
	// receives, each as an environment variable of the same name.
	Secrets []string `json:"secrets,omitempty"`
	// StopGracePeriod is how long an instance has between SIGTERM and SIGKILL.
	StopGracePeriod Duration `json:"stop_grace_period,omitempty"`
	// Config says how the service takes a change of the app's config set.
	// nil: its instances are replaced (and, being last and omitted, the
	// canonical JSON of services without it is what it was before the
	// field existed).
	Config *ServiceConfig `json:"config,omitempty"`

	// Autoscale lets a cluster scale the service between Min and Max
	// instances by CPU use (a HorizontalPodAutoscaler); it replaces
	// Replicas. The local runtime runs Min instances.
	Autoscale *Autoscale `json:"autoscale,omitempty"`
}

// Autoscale is the range a cluster scales a service in, and the CPU use
// (percent of resources.cpu, averaged over the instances) it aims at.
type Autoscale struct {
	Min int `json:"min"`
	Max int `json:"max"`
	CPU int `json:"cpu"`
}

// ServiceConfig says how a service takes a change of the app's config
// set (see docs/spec.md#config).
type ServiceConfig struct {
	// Reload is ReloadRestart (the default: new instances) or ReloadSignal
	// (the files are rewritten in place and the instance is signalled).
	Reload string `json:"reload,omitempty"`
	// Signal is what a ReloadSignal service is sent (default SIGHUP).
	Signal string `json:"signal,omitempty"`
}

// ReloadsLive reports whether the service declares that it rereads its
// config files when signalled.
func (s *Service) ReloadsLive() bool {
	return s != nil && s.Config != nil && s.Config.Reload == ReloadSignal
}

// Port is a port the service listens on. `ports: [8080]` is shorthand for
// `ports: [{port: 8080}]`.
type Port struct {
	Port     int    `json:"port"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"` // http (default) | tcp
}

// Health is how Berth decides an instance is ready. Exactly one of HTTP, TCP
// and Exec is set.
type Health struct {
	HTTP             *HTTPCheck `json:"http,omitempty"`
	TCP              *TCPCheck  `json:"tcp,omitempty"`
	Exec             *ExecCheck `json:"exec,omitempty"`
	InitialDelay     Duration   `json:"initial_delay,omitempty"`
	Interval         Duration   `json:"interval,omitempty"`
	Timeout          Duration   `json:"timeout,omitempty"`
	FailureThreshold int        `json:"failure_threshold,omitempty"`
	SuccessThreshold int        `json:"success_threshold,omitempty"`
}

// HTTPCheck passes on a 2xx or 3xx answer to GET Path.
type HTTPCheck struct {
	Path string `json:"path,omitempty"`
	Port int    `json:"port,omitempty"` // 0: the instance's main port
}

// TCPCheck passes when a connection to the port opens.
type TCPCheck struct {
	Port int `json:"port,omitempty"`
}

// ExecCheck passes when the command exits 0.
type ExecCheck struct {
	Command []string `json:"command"`
}

// Resources are limits per instance, in Kubernetes quantity notation.
type Resources struct {
	CPU    string `json:"cpu,omitempty"`    // "500m", "1", "2.5"
	Memory string `json:"memory,omitempty"` // "256Mi", "1Gi", "1000000"
}

// Volume is persistent storage that outlives instances and releases.
type Volume struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Size string `json:"size,omitempty"`
}

// Route sends requests for Host and Path to a service's port, with the
// gateway's traffic policies.
//
// The match and policy fields after Port are not filled in by SetDefaults
// (their zero value means the gateway's default): filling them would change
// the canonical JSON, and so the hash, of every spec written before they
// existed, and applying an unchanged berth.yaml would make a new release.
type Route struct {
	Host    string `json:"host"`
	Path    string `json:"path,omitempty"` // prefix, default "/"
	Service string `json:"service"`
	Port    int    `json:"port,omitempty"` // 0: the service's first port
	// PathType is PathPrefix (the default, also when empty) or PathExact.
	PathType string `json:"path_type,omitempty"`
	// Methods the route matches; empty matches any.
	Methods []string `json:"methods,omitempty"`
	// Headers that must all be present with exactly these values.
	Headers map[string]string `json:"headers,omitempty"`
	// Sticky keeps a client on the release track (stable or canary) it
	// first got while a canary runs, by cookie.
	Sticky bool `json:"sticky,omitempty"`
	// Timeout bounds a whole request, retries included; 0: the gateway's
	// default (60s).
	Timeout        Duration        `json:"timeout,omitempty"`
	Retries        *Retries        `json:"retries,omitempty"`
	CircuitBreaker *CircuitBreaker `json:"circuit_breaker,omitempty"`
	RateLimit      *RateLimit      `json:"rate_limit,omitempty"`
	// LB picks an instance: LBRoundRobin (default, also when empty) or
	// LBLeastRequest.
	LB string `json:"lb,omitempty"`
	// MaxBody is the largest request body, a byte quantity ("10Mi");
	// empty: the gateway's default (10 MiB).
	MaxBody string `json:"max_body,omitempty"`
	// Auth makes the gateway authenticate every request of the route; the
	// service gets the verified identity in X-Berth-Subject. nil: none
	// (and, being last and omitted, the canonical JSON of routes without
	// it is what it was before the field existed).
	Auth *RouteAuth `json:"auth,omitempty"`
}

// RouteAuth accepts a request that carries a valid bearer JWT of JWT's
// issuer or one of APIKeys' keys (either, when both are set).
type RouteAuth struct {
	JWT     *JWTAuth    `json:"jwt,omitempty"`
	APIKeys *APIKeyAuth `json:"api_keys,omitempty"`
}

// JWTAuth validates bearer JWTs against an OpenID issuer's keys.
type JWTAuth struct {
	// Issuer is the tokens' iss and where discovery finds the keys: an
	// https URL (plain http only for a loopback host).
	Issuer string `json:"issuer"`
	// JWKSURL is where the keys are; empty: from the issuer's discovery
	// document.
	JWKSURL string `json:"jwks_url,omitempty"`
	// Audiences are the aud values accepted (at least one).
	Audiences []string `json:"audiences,omitempty"`
}

// APIKeyAuth accepts requests carrying one of the keys in a header. The
// spec holds only each key's SHA-256 digest, never the key.
type APIKeyAuth struct {
	// Header carries the key (default X-API-Key).
	Header string `json:"header,omitempty"`
	// Keys maps the SHA-256 of each key (64 hex characters) to the
	// subject the service is told.
	Keys map[string]string `json:"keys,omitempty"`
}

// Retries retries failed idempotent requests on another instance.
type Retries struct {
	// Attempts is the number of tries in all, the first included.
	Attempts      int      `json:"attempts,omitempty"`
	PerTryTimeout Duration `json:"per_try_timeout,omitempty"`
	// SafeMethods may be retried besides the idempotent methods.
	SafeMethods []string `json:"safe_methods,omitempty"`
}

// CircuitBreaker stops sending requests to a route's service for a while
// when too many fail or are slow.
type CircuitBreaker struct {
	ErrorRatio          float64  `json:"error_ratio,omitempty"`
	ConsecutiveFailures int      `json:"consecutive_failures,omitempty"`
	LatencyQuantile     float64  `json:"latency_quantile,omitempty"`
	LatencyThreshold    Duration `json:"latency_threshold,omitempty"`
	Window              Duration `json:"window,omitempty"`
	MinRequests         int      `json:"min_requests,omitempty"`
	OpenFor             Duration `json:"open_for,omitempty"`
}

// RateLimit is a token bucket per client (or per header value).
type RateLimit struct {
	Rate  float64 `json:"rate"`            // requests per second
	Burst int     `json:"burst,omitempty"` // bucket size
	Key   string  `json:"key,omitempty"`   // ip (default) | header:<Name>
}

// Route path types and load-balancing algorithms.
const (
	PathPrefix     = "prefix"
	PathExact      = "exact"
	LBRoundRobin   = "round_robin"
	LBLeastRequest = "least_request"
	RateKeyIP      = "ip"
	RateKeyHeader  = "header:"
	// RateKeySubject keys buckets by the verified subject; needs auth.
	RateKeySubject = "jwt_sub"
)

// Strategy is how a new release replaces the running one.
type Strategy struct {
	Type string `json:"type,omitempty"` // recreate | rolling (default) | canary
	// MaxSurge is how many extra instances may run during a rolling update.
	MaxSurge int `json:"max_surge,omitempty"`
	// ProgressDeadline is how long a release may take to become healthy
	// before it is marked failed (for a canary: how long each step's
	// instances may take to become ready).
	ProgressDeadline Duration `json:"progress_deadline,omitempty"`
	// Steps are a canary's traffic weights, in order. Without steps a
	// canary starts at weight 0 and is moved by hand.
	Steps []CanaryStep `json:"steps,omitempty"`
}

// CanaryStep is one weight of a canary release.
type CanaryStep struct {
	// Weight is the canary's share of the traffic in percent (1-99).
	Weight int `json:"weight"`
	// Pause is how long the step lasts before the next one (after the last
	// step: before the release is promoted). Unset, the step lasts until
	// it is moved by hand (berth rollout --weight, promote or abort); a
	// pointer, because an explicit 0s (go on at once) differs from unset.
	Pause *Duration `json:"pause,omitempty"`
}

// Strategy types.
const (
	StrategyRecreate = "recreate"
	StrategyRolling  = "rolling"
	// StrategyCanary runs the new release beside the serving one and moves
	// traffic to it by weight, in steps, until it is promoted.
	StrategyCanary = "canary"
)

// Port protocols.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
)

// Duration is a time.Duration written as "5s", "1m30s" in YAML and JSON
// (see duration.go).
type Duration time.Duration
