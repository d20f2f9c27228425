package api

import "time"

// GatewaySnapshot is the whole routing table a gateway serves, as answered
// by GET /api/v1/gateway/snapshot: every route of every app's serving
// release with the ready instances of each release track. A standalone
// gateway loads it, then follows GET /api/v1/watch from Revision and
// fetches a new snapshot after changes. Durations are integer nanoseconds.
type GatewaySnapshot struct {
	// Revision is the change-log revision the snapshot reflects (at least).
	Revision int64          `json:"revision"`
	Routes   []GatewayRoute `json:"routes"`
}

// GatewayRoute sends matching requests to one service of one app.
type GatewayRoute struct {
	// ID is stable across snapshots for the same route ("<app>/<n>").
	ID       string               `json:"id"`
	App      string               `json:"app"`
	Service  string               `json:"service"`
	Host     string               `json:"host"` // exact, or "*.example.com"
	Path     string               `json:"path"`
	PathType string               `json:"path_type,omitempty"` // prefix (default) or exact
	Methods  []string             `json:"methods,omitempty"`   // empty: any
	Headers  []GatewayHeaderMatch `json:"headers,omitempty"`   // all must match
	// Tracks split traffic by weight (percent, summing to 100): one
	// stable track, or a stable and a canary one.
	Tracks []GatewayTrack `json:"tracks"`
	Sticky bool           `json:"sticky,omitempty"`
	Policy GatewayPolicy  `json:"policy,omitzero"`
}

// GatewayHeaderMatch matches a request header by exact value.
type GatewayHeaderMatch struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// GatewayTrack is one release's share of a route.
type GatewayTrack struct {
	Name      string            `json:"name"` // stable or canary
	Release   int               `json:"release"`
	Weight    int               `json:"weight"` // 0..100
	Endpoints []GatewayEndpoint `json:"endpoints"`
}

// GatewayEndpoint is one ready instance.
type GatewayEndpoint struct {
	Addr     string `json:"addr"` // host:port
	Instance string `json:"instance,omitempty"`
	// Release is the release the instance runs, when it differs from its
	// track's (a rolling update); 0: the track's.
	Release int `json:"release,omitempty"`
}

// GatewayPolicy is a route's traffic policy; zero values mean the
// gateway's defaults.
type GatewayPolicy struct {
	Timeout      time.Duration           `json:"timeout,omitempty"`
	MaxBodyBytes int64                   `json:"max_body_bytes,omitempty"` // -1: no limit
	LB           string                  `json:"lb,omitempty"`             // round_robin or least_request
	Retry        *GatewayRetryPolicy     `json:"retry,omitempty"`
	Breaker      *GatewayBreakerPolicy   `json:"breaker,omitempty"`
	RateLimit    *GatewayRateLimitPolicy `json:"rate_limit,omitempty"`
	Auth         *GatewayAuthPolicy      `json:"auth,omitempty"`
}

// GatewayRetryPolicy retries idempotent requests on another endpoint.
type GatewayRetryPolicy struct {
	Attempts      int           `json:"attempts"`
	PerTryTimeout time.Duration `json:"per_try_timeout,omitempty"`
	SafeMethods   []string      `json:"safe_methods,omitempty"`
	Budget        float64       `json:"budget,omitempty"`
}

// GatewayBreakerPolicy opens a route's circuit on errors or slowness.
type GatewayBreakerPolicy struct {
	Window              time.Duration `json:"window,omitempty"`
	MinRequests         int           `json:"min_requests,omitempty"`
	ErrorRatio          float64       `json:"error_ratio,omitempty"`
	ConsecutiveFailures int           `json:"consecutive_failures,omitempty"`
	LatencyQuantile     float64       `json:"latency_quantile,omitempty"`
	LatencyThreshold    time.Duration `json:"latency_threshold,omitempty"`
	OpenFor             time.Duration `json:"open_for,omitempty"`
	HalfOpenRequests    int           `json:"half_open_requests,omitempty"`
}

// GatewayRateLimitPolicy is a token bucket per key (ip, header:<Name> or
// jwt_sub).
type GatewayRateLimitPolicy struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
	Key   string  `json:"key,omitempty"`
}

// GatewayAuthPolicy authenticates requests at the edge.
type GatewayAuthPolicy struct {
	JWT     *GatewayJWTAuth `json:"jwt,omitempty"`
	APIKeys *GatewayAPIKeys `json:"api_keys,omitempty"`
}

// GatewayJWTAuth validates bearer JWTs against an OpenID issuer's keys.
type GatewayJWTAuth struct {
	Issuer    string   `json:"issuer"`
	JWKSURL   string   `json:"jwks_url,omitempty"`
	Audiences []string `json:"audiences,omitempty"`
}

// GatewayAPIKeys accepts requests carrying one of the keys.
type GatewayAPIKeys struct {
	Header string `json:"header,omitempty"`
	// Keys maps the SHA-256 hex digest of each key to its subject.
	Keys map[string]string `json:"keys"`
}
