package spec

import (
	"net/http"
	"slices"
	"strings"
)

// Limits of route policies and canary steps, the same the gateway enforces:
// a spec that passes here must never make the gateway refuse its routes.
const (
	MaxRetryAttempts = 10
	MaxRateLimit     = 1e9 // requests per second
	MaxCanarySteps   = 20
	// minBreakerWindow keeps each of the breaker's window buckets at least
	// a millisecond wide.
	minBreakerWindow = Duration(10_000_000)
)

// routeKey identifies what a route matches, for the duplicate check.
func routeKey(r Route) string {
	pt := r.PathType
	if pt == "" {
		pt = PathPrefix
	}
	methods := make([]string, len(r.Methods))
	for i, m := range r.Methods {
		methods[i] = strings.ToUpper(m)
	}
	slices.Sort(methods)
	var headers []string
	for _, k := range sortedKeys(r.Headers) {
		headers = append(headers, http.CanonicalHeaderKey(k)+"="+r.Headers[k])
	}
	slices.Sort(headers)
	return strings.Join([]string{r.Host, r.Path, pt, strings.Join(methods, ","), strings.Join(headers, "\x01")}, "\x00")
}

// routeMatch checks path_type, methods and headers.
func (v *validator) routeMatch(p string, r Route) {
	switch r.PathType {
	case "", PathPrefix, PathExact:
	default:
		v.add(join(p, "path_type"), "expected prefix or exact, got %s", quoteShort(r.PathType))
	}
	v.methods(join(p, "methods"), r.Methods)
	for _, k := range sortedKeys(r.Headers) {
		kp := join(join(p, "headers"), k)
		switch {
		case !isToken(k):
			v.add(kp, "%s is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", quoteShort(k))
		case strings.ContainsFunc(r.Headers[k], func(c rune) bool { return c < ' ' && c != '\t' || c == 0x7f }):
			v.add(kp, "the value must not contain control characters")
		}
	}
}

func (v *validator) methods(p string, ms []string) {
	seen := map[string]int{}
	for i, m := range ms {
		ip := index(p, i)
		if !isToken(m) {
			v.add(ip, "%s is not an HTTP method name", quoteShort(m))
			continue
		}
		up := strings.ToUpper(m)
		if j, dup := seen[up]; dup {
			v.add(ip, "%s is listed twice (also %s)", quoteShort(m), index(p, j))
		} else {
			seen[up] = i
		}
	}
}

// routePolicy checks timeout, retries, circuit_breaker, rate_limit, lb and
// max_body (with defaults applied).
func (v *validator) routePolicy(p string, r Route) {
	if r.Timeout < 0 {
		v.add(join(p, "timeout"), "%s must not be negative", r.Timeout)
	}
	switch r.LB {
	case "", LBRoundRobin, LBLeastRequest:
	default:
		v.add(join(p, "lb"), "expected round_robin or least_request, got %s", quoteShort(r.LB))
	}
	if _, err := r.MaxBodyBytes(); err != nil {
		v.add(join(p, "max_body"), "%v", err)
	}
	if rt := r.Retries; rt != nil {
		rp := join(p, "retries")
		if rt.Attempts < 1 || rt.Attempts > MaxRetryAttempts {
			v.add(join(rp, "attempts"), "%d is out of range (1-%d, the first try included)", rt.Attempts, MaxRetryAttempts)
		}
		if rt.PerTryTimeout < 0 {
			v.add(join(rp, "per_try_timeout"), "%s must not be negative", rt.PerTryTimeout)
		}
		v.methods(join(rp, "safe_methods"), rt.SafeMethods)
	}
	if cb := r.CircuitBreaker; cb != nil {
		v.breaker(join(p, "circuit_breaker"), cb)
	}
	if rl := r.RateLimit; rl != nil {
		v.rateLimit(join(p, "rate_limit"), rl, r.Auth != nil)
	}
	if r.Auth != nil {
		v.auth(join(p, "auth"), r.Auth)
	}
}

func (v *validator) breaker(p string, cb *CircuitBreaker) {
	if cb.ErrorRatio < 0 || cb.ErrorRatio > 1 {
		v.add(join(p, "error_ratio"), "%g is not a ratio (0-1)", cb.ErrorRatio)
	}
	if cb.ConsecutiveFailures < 0 {
		v.add(join(p, "consecutive_failures"), "%d must not be negative", cb.ConsecutiveFailures)
	}
	switch {
	case cb.LatencyQuantile < 0 || cb.LatencyQuantile > 1:
		v.add(join(p, "latency_quantile"), "%g is not a quantile (0-1, e.g. 0.99)", cb.LatencyQuantile)
	case cb.LatencyQuantile > 0 && cb.LatencyThreshold == 0:
		v.add(join(p, "latency_quantile"), "is set but latency_threshold is not")
	}
	if cb.LatencyThreshold < 0 {
		v.add(join(p, "latency_threshold"), "%s must not be negative", cb.LatencyThreshold)
	}
	if cb.Window < minBreakerWindow {
		v.add(join(p, "window"), "%s is too short (at least %s)", cb.Window, minBreakerWindow)
	}
	if cb.MinRequests < 1 {
		v.add(join(p, "min_requests"), "%d must be at least 1", cb.MinRequests)
	}
	if cb.OpenFor <= 0 {
		v.add(join(p, "open_for"), "%s must be greater than 0", cb.OpenFor)
	}
}

func (v *validator) rateLimit(p string, rl *RateLimit, hasAuth bool) {
	if !(rl.Rate > 0 && rl.Rate <= MaxRateLimit) { // NaN fails too
		v.add(join(p, "rate"), "%g is out of range: requests per second, greater than 0 and at most %g", rl.Rate, float64(MaxRateLimit))
	}
	// 0 after defaults only when the rate is invalid (reported above).
	if rl.Burst < 0 {
		v.add(join(p, "burst"), "%d must be at least 1 (or unset: the rate)", rl.Burst)
	}
	switch k := rl.Key; {
	case k == RateKeyIP:
	case strings.HasPrefix(k, RateKeyHeader):
		if name := strings.TrimPrefix(k, RateKeyHeader); !isToken(name) || len(name) > 256 {
			v.add(join(p, "key"), "%s: %s is not a header name", quoteShort(k), quoteShort(name))
		}
	case k == RateKeySubject:
		if !hasAuth {
			v.add(join(p, "key"), "jwt_sub needs an auth policy on the route (auth: {jwt: ...} or {api_keys: ...}); or use ip or header:<Name>")
		}
	default:
		v.add(join(p, "key"), "expected ip, header:<Name> or jwt_sub, got %s", quoteShort(k))
	}
}

// canarySteps checks strategy.steps: weights 1-99, strictly increasing,
// pauses not negative; steps only with type canary.
func (v *validator) canarySteps(s Strategy) {
	if len(s.Steps) == 0 {
		return
	}
	if s.Type != StrategyCanary {
		v.add("strategy.steps", "steps are only used by type canary (type is %s)", quoteShort(s.Type))
	}
	if len(s.Steps) > MaxCanarySteps {
		v.add("strategy.steps", "%d steps are too many (at most %d)", len(s.Steps), MaxCanarySteps)
	}
	prev := 0
	for i, st := range s.Steps {
		ip := index("strategy.steps", i)
		switch {
		case st.Weight == 0:
			v.add(join(ip, "weight"), "is required: the canary's share of traffic in percent (1-99)")
		case st.Weight < 1 || st.Weight > 99:
			v.add(join(ip, "weight"), "%d is out of range (1-99; the release gets 100 when it is promoted)", st.Weight)
		case st.Weight <= prev:
			v.add(join(ip, "weight"), "%d must be greater than the weight of %s (%d)", st.Weight, index("strategy.steps", i-1), prev)
		}
		if st.Weight >= 1 && st.Weight <= 99 {
			prev = max(prev, st.Weight)
		}
		if st.Pause != nil && *st.Pause < 0 {
			v.add(join(ip, "pause"), "%s must not be negative", *st.Pause)
		}
	}
}

// isToken reports whether s is an RFC 9110 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
