package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Options and Policy fields left zero.
const (
	DefaultMaxHeaderBytes      = 64 << 10
	DefaultDialTimeout         = 5 * time.Second
	DefaultIdleConnTimeout     = 90 * time.Second
	DefaultMaxIdlePerEndpoint  = 256
	DefaultTimeout             = 60 * time.Second
	DefaultMaxBodyBytes        = 10 << 20
	DefaultRetryBudget         = 0.2
	DefaultConsecutiveFailures = 5
	DefaultBaseEjection        = 10 * time.Second
	DefaultMaxEjectionPercent  = 50
)

// MiddlewareFunc wraps a route's proxy handler in its policy middleware
// (auth, rate limit, breaker...). It is called when a route first appears
// and whenever its Breaker, RateLimit or Auth policy changes; otherwise the
// handler it returned is kept, so breaker and bucket state survive reloads.
// ctx ends when the handler is replaced or the gateway closes: goroutines
// the middleware starts must stop then. It lives in Options rather than
// being called directly because the policy packages import this one for
// their config types. A middleware must call next on the request's own
// goroutine, before its ServeHTTP returns (the gateway recycles the
// request's state when it does).
type MiddlewareFunc func(ctx context.Context, route Route, next http.Handler) (http.Handler, error)

// Options configures a Gateway; zero values mean the defaults.
type Options struct {
	// Logger receives operational logs (failed instances, ejections).
	Logger *slog.Logger
	// AccessLog receives one record per request ("access"); nil: none.
	// Give it a JSON handler for machine-readable lines.
	AccessLog *slog.Logger
	// AccessLogSample is the fraction (0..1] of requests answered below 500
	// that are logged; 5xx are always logged. 0 means 1.
	AccessLogSample float64
	// Metrics is where the gateway registers its Prometheus collectors;
	// nil: a private registry, served by MetricsHandler.
	Metrics prometheus.Registerer
	// MaxHeaderBytes bounds a request's header; larger ones get 431.
	MaxHeaderBytes int
	// DialTimeout bounds connecting to an instance.
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for an instance's response
	// header after the request was sent; 0: only the route's Timeout.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes kept-alive connections to instances that
	// were not used for this long.
	IdleConnTimeout time.Duration
	// MaxIdlePerEndpoint is how many idle connections are kept per
	// instance address.
	MaxIdlePerEndpoint int
	// Outlier tunes passive outlier ejection.
	Outlier OutlierOptions
	// Middlewares builds each route's policy middleware; nil: none.
	Middlewares MiddlewareFunc
	// TLS configures the certificates NewServer's TLSConfig serves.
	TLS *TLSOptions
}

// OutlierOptions tunes passive outlier ejection.
type OutlierOptions struct {
	// ConsecutiveFailures (5xx answers or connection errors) that eject an
	// endpoint.
	ConsecutiveFailures int
	// BaseEjection is how long the first ejection lasts; each further
	// ejection of the same endpoint lasts one more BaseEjection (up to 10x).
	BaseEjection time.Duration
	// MaxEjectionPercent caps the share of a track's endpoints ejected at
	// once (rounded down, and never all of them).
	MaxEjectionPercent int
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AccessLogSample <= 0 || o.AccessLogSample > 1 {
		o.AccessLogSample = 1
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.IdleConnTimeout <= 0 {
		o.IdleConnTimeout = DefaultIdleConnTimeout
	}
	if o.MaxIdlePerEndpoint <= 0 {
		o.MaxIdlePerEndpoint = DefaultMaxIdlePerEndpoint
	}
	if o.Outlier.ConsecutiveFailures <= 0 {
		o.Outlier.ConsecutiveFailures = DefaultConsecutiveFailures
	}
	if o.Outlier.BaseEjection <= 0 {
		o.Outlier.BaseEjection = DefaultBaseEjection
	}
	if o.Outlier.MaxEjectionPercent <= 0 || o.Outlier.MaxEjectionPercent > 100 {
		o.Outlier.MaxEjectionPercent = DefaultMaxEjectionPercent
	}
	return o
}
