package breaker

import (
	"fmt"
	"math"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// Defaults for the zero values of a BreakerPolicy.
const (
	DefaultWindow           = 10 * time.Second
	DefaultMinRequests      = 20
	DefaultErrorRatio       = 0.5 // used only when no trigger is set at all
	DefaultLatencyQuantile  = 0.99
	DefaultOpenFor          = 5 * time.Second
	DefaultHalfOpenRequests = 1
	// DefaultMaxOpenFor caps how long OpenFor grows to after failed probes
	// (unless OpenFor itself is longer).
	DefaultMaxOpenFor = time.Minute

	// minWindow keeps each of the window's buckets at least a millisecond wide.
	minWindow = 10 * time.Millisecond
)

// settings is a BreakerPolicy with defaults applied and checked.
type settings struct {
	window      time.Duration
	minRequests int
	errorRatio  float64 // 0: off
	consecutive int     // 0: off
	quantile    float64
	latency     time.Duration // 0: off
	openFor     time.Duration
	maxOpenFor  time.Duration
	halfOpen    int
}

func resolve(p gateway.BreakerPolicy, maxOpenFor time.Duration) (settings, error) {
	s := settings{
		window:      p.Window,
		minRequests: p.MinRequests,
		errorRatio:  p.ErrorRatio,
		consecutive: p.ConsecutiveFailures,
		quantile:    p.LatencyQuantile,
		latency:     p.LatencyThreshold,
		openFor:     p.OpenFor,
		halfOpen:    p.HalfOpenRequests,
	}
	switch {
	case s.window < 0:
		return s, &fieldError{"window", fmt.Sprintf("%s must be positive", s.window)}
	case s.window == 0:
		s.window = DefaultWindow
	case s.window < minWindow:
		return s, &fieldError{"window", fmt.Sprintf("%s is too short (at least %s)", s.window, minWindow)}
	}
	switch {
	case s.minRequests < 0:
		return s, &fieldError{"min_requests", fmt.Sprintf("%d must be zero (default %d) or positive", s.minRequests, DefaultMinRequests)}
	case s.minRequests == 0:
		s.minRequests = DefaultMinRequests
	}
	if math.IsNaN(s.errorRatio) || s.errorRatio < 0 || s.errorRatio > 1 {
		return s, &fieldError{"error_ratio", fmt.Sprintf("%g is not a ratio (0-1)", s.errorRatio)}
	}
	if s.consecutive < 0 {
		return s, &fieldError{"consecutive_failures", fmt.Sprintf("%d must be zero (off) or positive", s.consecutive)}
	}
	if s.latency < 0 {
		return s, &fieldError{"latency_threshold", fmt.Sprintf("%s must be positive", s.latency)}
	}
	if math.IsNaN(s.quantile) || s.quantile < 0 || s.quantile > 1 {
		return s, &fieldError{"latency_quantile", fmt.Sprintf("%g is not a quantile (0-1)", s.quantile)}
	}
	if s.quantile > 0 && s.latency == 0 {
		return s, &fieldError{"latency_quantile", "is set but latency_threshold is not"}
	}
	if s.latency > 0 && s.quantile == 0 {
		s.quantile = DefaultLatencyQuantile
	}
	// A breaker with no trigger would never open; `breaker: {}` in a spec
	// means "a breaker with the defaults", so give it the default one.
	if s.errorRatio == 0 && s.consecutive == 0 && s.latency == 0 {
		s.errorRatio = DefaultErrorRatio
	}
	switch {
	case s.openFor < 0:
		return s, &fieldError{"open_for", fmt.Sprintf("%s must be positive", s.openFor)}
	case s.openFor == 0:
		s.openFor = DefaultOpenFor
	}
	switch {
	case s.halfOpen < 0:
		return s, &fieldError{"half_open_requests", fmt.Sprintf("%d must be zero (default %d) or positive", s.halfOpen, DefaultHalfOpenRequests)}
	case s.halfOpen == 0:
		s.halfOpen = DefaultHalfOpenRequests
	}
	s.maxOpenFor = max(maxOpenFor, s.openFor)
	return s, nil
}
