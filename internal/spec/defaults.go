package spec

import (
	"math"
	"time"
)

// Defaults, in one place so docs/spec.md, the schema and the code agree.
const (
	DefaultReplicas         = 1
	DefaultHealthInterval   = Duration(5 * time.Second)
	DefaultHealthTimeout    = Duration(1 * time.Second)
	DefaultFailureThreshold = 3
	DefaultSuccessThreshold = 1
	DefaultHealthPath       = "/"
	DefaultProtocol         = ProtocolHTTP
	DefaultRoutePath        = "/"
	DefaultStrategy         = StrategyRolling
	DefaultMaxSurge         = 1
	DefaultProgressDeadline = Duration(2 * time.Minute)
	DefaultStopGracePeriod  = Duration(10 * time.Second)

	// Route policies: the gateway's own defaults, written into the spec
	// so that a release shows what its policies do.
	DefaultRetryAttempts          = 2
	DefaultBreakerWindow          = Duration(10 * time.Second)
	DefaultBreakerMinRequests     = 20
	DefaultBreakerErrorRatio      = 0.5 // only when no other trigger is set
	DefaultBreakerLatencyQuantile = 0.99
	DefaultBreakerOpenFor         = Duration(5 * time.Second)
	DefaultRateLimitKey           = RateKeyIP
	DefaultAPIKeyHeader           = "X-API-Key"
)

// SetDefaults fills every unset field that has a default. It only fills zero
// values, so calling it twice changes nothing, and a zero that the user wrote
// (max_surge: 0) reads as unset: the types cannot tell the two apart.
func (a *App) SetDefaults() {
	for _, s := range a.Services {
		if s != nil {
			s.setDefaults()
		}
	}
	for i := range a.Routes {
		a.Routes[i].setDefaults()
	}
	if a.Strategy.Type == "" {
		a.Strategy.Type = DefaultStrategy
	}
	if a.Strategy.MaxSurge == 0 {
		a.Strategy.MaxSurge = DefaultMaxSurge
	}
	if a.Strategy.ProgressDeadline == 0 {
		a.Strategy.ProgressDeadline = DefaultProgressDeadline
	}
}

func (s *Service) setDefaults() {
	if s.Replicas == nil && s.Autoscale == nil { // with autoscale the range decides
		r := DefaultReplicas
		s.Replicas = &r
	}
	for i := range s.Ports {
		if s.Ports[i].Protocol == "" {
			s.Ports[i].Protocol = DefaultProtocol
		}
	}
	if h := s.Health; h != nil {
		if h.Interval == 0 {
			h.Interval = DefaultHealthInterval
		}
		if h.Timeout == 0 {
			h.Timeout = DefaultHealthTimeout
			// A short interval the user chose must not make the default
			// timeout invalid (timeout < interval) behind their back.
			if h.Interval > 0 && h.Interval <= DefaultHealthTimeout {
				h.Timeout = h.Interval / 2
			}
		}
		if h.FailureThreshold == 0 {
			h.FailureThreshold = DefaultFailureThreshold
		}
		if h.SuccessThreshold == 0 {
			h.SuccessThreshold = DefaultSuccessThreshold
		}
		if h.HTTP != nil && h.HTTP.Path == "" {
			h.HTTP.Path = DefaultHealthPath
		}
	}
	if s.StopGracePeriod == 0 {
		s.StopGracePeriod = DefaultStopGracePeriod
	}
	if c := s.Config; c != nil {
		if c.Reload == "" {
			c.Reload = ReloadRestart
		}
		if c.Reload == ReloadSignal && c.Signal == "" {
			c.Signal = DefaultReloadSignal
		}
	}
}

// ReplicaCount returns Replicas, or DefaultReplicas when it is unset;
// Autoscale.Min when the service autoscales.
func (s *Service) ReplicaCount() int {
	if s.Autoscale != nil {
		return s.Autoscale.Min
	}
	if s.Replicas == nil {
		return DefaultReplicas
	}
	return *s.Replicas
}

// setDefaults fills the route's path and the unset fields of the policies
// it has. Route-level match and policy fields keep their zero value, which
// means the gateway's default (see Route).
func (r *Route) setDefaults() {
	if r.Path == "" {
		r.Path = DefaultRoutePath
	}
	if rt := r.Retries; rt != nil && rt.Attempts == 0 {
		rt.Attempts = DefaultRetryAttempts
	}
	if cb := r.CircuitBreaker; cb != nil {
		if cb.Window == 0 {
			cb.Window = DefaultBreakerWindow
		}
		if cb.MinRequests == 0 {
			cb.MinRequests = DefaultBreakerMinRequests
		}
		if cb.OpenFor == 0 {
			cb.OpenFor = DefaultBreakerOpenFor
		}
		if cb.LatencyThreshold > 0 && cb.LatencyQuantile == 0 {
			cb.LatencyQuantile = DefaultBreakerLatencyQuantile
		}
		// A breaker with no trigger would never open: `circuit_breaker: {}`
		// means one with the default trigger.
		if cb.ErrorRatio == 0 && cb.ConsecutiveFailures == 0 && cb.LatencyThreshold == 0 {
			cb.ErrorRatio = DefaultBreakerErrorRatio
		}
	}
	if rl := r.RateLimit; rl != nil {
		if rl.Burst == 0 && rl.Rate > 0 && rl.Rate <= MaxRateLimit {
			rl.Burst = max(1, int(math.Ceil(rl.Rate)))
		}
		if rl.Key == "" {
			rl.Key = DefaultRateLimitKey
		}
	}
	if a := r.Auth; a != nil && a.APIKeys != nil && a.APIKeys.Header == "" {
		a.APIKeys.Header = DefaultAPIKeyHeader
	}
}
