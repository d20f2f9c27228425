package gateway

import "time"

// Snapshot is the whole configuration a gateway serves: every route of
// every app, with the ready endpoints of each release track. A provider
// (the embedded route feed, or a standalone gateway following the control
// plane's watch stream) builds one and hands it to Gateway.Load, which
// compiles it into an immutable table and swaps it in atomically.
type Snapshot struct {
	// Revision is the change-log revision the snapshot reflects.
	Revision int64   `json:"revision"`
	Routes   []Route `json:"routes"`
}

// Delta changes part of the served configuration: every route of each
// app it names is replaced by the routes given for that app (none: the
// app's routes go). Routes of apps it does not name keep serving, with
// their compiled form and state. Gateway.LoadDelta applies one; the
// embedded route feed sends one per change instead of a whole Snapshot.
type Delta struct {
	// Revision is the change-log revision the table reflects afterwards.
	Revision int64
	// Apps maps an app name to all of its routes; each route's App must be
	// that name.
	Apps map[string][]Route
}

// Path match types.
const (
	PathPrefix = "prefix" // default: "/api" matches /api and /api/..., not /apix
	PathExact  = "exact"
)

// Load-balancing algorithms (Policy.LB).
const (
	LBRoundRobin   = "round_robin"
	LBLeastRequest = "least_request"
)

// Track names. A route has one track, or two during a canary release.
const (
	TrackStable = "stable"
	TrackCanary = "canary"
)

// Route sends matching requests to one service of one app.
type Route struct {
	// ID is stable across snapshots for the same route ("<app>/<n>"); metrics
	// and per-route policy state (breakers, buckets) are keyed by it.
	ID       string        `json:"id"`
	App      string        `json:"app"`
	Service  string        `json:"service"`
	Host     string        `json:"host"` // exact, or "*.example.com"
	Path     string        `json:"path"` // default "/"
	PathType string        `json:"path_type,omitempty"`
	Methods  []string      `json:"methods,omitempty"` // empty: any
	Headers  []HeaderMatch `json:"headers,omitempty"` // all must match
	// Tracks split traffic by weight (percent, summing to 100).
	Tracks []Track `json:"tracks"`
	// Sticky pins a client to the track it first got, by cookie, while the
	// route has more than one track.
	Sticky bool   `json:"sticky,omitempty"`
	Policy Policy `json:"policy,omitzero"`
}

// HeaderMatch matches a request header by exact value.
type HeaderMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Track is one release's share of a route.
type Track struct {
	Name      string     `json:"name"` // TrackStable or TrackCanary
	Release   int        `json:"release"`
	Weight    int        `json:"weight"` // 0..100
	Endpoints []Endpoint `json:"endpoints"`
}

// Endpoint is one ready instance.
type Endpoint struct {
	Addr     string `json:"addr"` // host:port
	Instance string `json:"instance,omitempty"`
	// Release is the release the instance runs when it differs from its
	// track's (a rolling update mixes two releases in one track); 0 means
	// the track's release.
	Release int `json:"release,omitempty"`
}

// Policy is a route's traffic policy; zero values mean the defaults.
type Policy struct {
	// Timeout bounds the whole request, retries included (default 60s).
	Timeout time.Duration `json:"timeout,omitempty"`
	// MaxBodyBytes rejects larger request bodies with 413 (default 10 MiB; -1 no limit).
	MaxBodyBytes int64 `json:"max_body_bytes,omitempty"`
	// LB picks an endpoint within a track: LBRoundRobin (default) or
	// LBLeastRequest (power of two choices by requests in flight).
	LB        string           `json:"lb,omitempty"`
	Retry     *RetryPolicy     `json:"retry,omitempty"`
	Breaker   *BreakerPolicy   `json:"breaker,omitempty"`
	RateLimit *RateLimitPolicy `json:"rate_limit,omitempty"`
	Auth      *AuthPolicy      `json:"auth,omitempty"`
}

// RetryPolicy retries idempotent requests on another endpoint.
type RetryPolicy struct {
	Attempts      int           `json:"attempts"`                  // total tries, >= 1
	PerTryTimeout time.Duration `json:"per_try_timeout,omitempty"` // default: none beyond Timeout
	// Methods that may be retried besides the idempotent ones (e.g. POST
	// declared safe by the service).
	SafeMethods []string `json:"safe_methods,omitempty"`
	// Budget caps retries at this fraction of requests (default 0.2).
	Budget float64 `json:"budget,omitempty"`
}

// BreakerPolicy opens a route's circuit on errors or slowness.
type BreakerPolicy struct {
	Window              time.Duration `json:"window,omitempty"`               // default 10s
	MinRequests         int           `json:"min_requests,omitempty"`         // before ratios count, default 20
	ErrorRatio          float64       `json:"error_ratio,omitempty"`          // e.g. 0.5
	ConsecutiveFailures int           `json:"consecutive_failures,omitempty"` // e.g. 5
	LatencyQuantile     float64       `json:"latency_quantile,omitempty"`     // e.g. 0.99
	LatencyThreshold    time.Duration `json:"latency_threshold,omitempty"`    // open when that quantile exceeds this
	OpenFor             time.Duration `json:"open_for,omitempty"`             // before half-open, default 5s
	HalfOpenRequests    int           `json:"half_open_requests,omitempty"`   // probes, default 1
}

// RateLimitPolicy is a token bucket per key.
type RateLimitPolicy struct {
	Rate  float64 `json:"rate"`  // tokens per second
	Burst int     `json:"burst"` // bucket size
	// Key is what a bucket belongs to: "ip" (default), "header:<Name>"
	// (e.g. an API key), or "jwt_sub" (the verified subject; needs Auth).
	Key string `json:"key,omitempty"`
}

// AuthPolicy authenticates requests at the edge; the verified identity is
// forwarded to the service in X-Berth-Subject (and X-Berth-Auth), and any
// copies of those headers the client sent are removed first.
type AuthPolicy struct {
	JWT     *JWTAuth `json:"jwt,omitempty"`
	APIKeys *APIKeys `json:"api_keys,omitempty"`
}

// JWTAuth validates bearer JWTs against an OIDC issuer's keys.
type JWTAuth struct {
	Issuer    string   `json:"issuer"`
	JWKSURL   string   `json:"jwks_url,omitempty"` // default: from the issuer's discovery document
	Audiences []string `json:"audiences,omitempty"`
}

// APIKeys accepts requests carrying one of the keys.
type APIKeys struct {
	Header string `json:"header,omitempty"` // default X-API-Key
	// Keys maps a SHA-256 hex digest of each key to the subject it stands for.
	Keys map[string]string `json:"keys"`
}
