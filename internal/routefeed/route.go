package routefeed

import (
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
)

// gatewayRoute maps a spec route's match and policy fields to the gateway's; the
// tracks are left to the caller.
func gatewayRoute(id, app string, r spec.Route) (gateway.Route, error) {
	maxBody, err := r.MaxBodyBytes()
	if err != nil {
		return gateway.Route{}, err
	}
	gr := gateway.Route{
		ID:       id,
		App:      app,
		Service:  r.Service,
		Host:     r.Host,
		Path:     r.Path,
		PathType: r.PathType,
		Methods:  r.Methods,
		Sticky:   r.Sticky,
		Policy: gateway.Policy{
			Timeout:      r.Timeout.D(),
			MaxBodyBytes: maxBody,
			LB:           r.LB,
		},
	}
	for name, value := range r.Headers {
		gr.Headers = append(gr.Headers, gateway.HeaderMatch{Name: name, Value: value})
	}
	slices.SortFunc(gr.Headers, func(a, b gateway.HeaderMatch) int { return strings.Compare(a.Name, b.Name) })
	if rt := r.Retries; rt != nil {
		gr.Policy.Retry = &gateway.RetryPolicy{
			Attempts: rt.Attempts, PerTryTimeout: rt.PerTryTimeout.D(), SafeMethods: rt.SafeMethods,
		}
	}
	if cb := r.CircuitBreaker; cb != nil {
		gr.Policy.Breaker = &gateway.BreakerPolicy{
			Window: cb.Window.D(), MinRequests: cb.MinRequests, ErrorRatio: cb.ErrorRatio,
			ConsecutiveFailures: cb.ConsecutiveFailures, LatencyQuantile: cb.LatencyQuantile,
			LatencyThreshold: cb.LatencyThreshold.D(), OpenFor: cb.OpenFor.D(),
		}
	}
	if rl := r.RateLimit; rl != nil {
		gr.Policy.RateLimit = &gateway.RateLimitPolicy{Rate: rl.Rate, Burst: rl.Burst, Key: rl.Key}
	}
	gr.Policy.Auth = authPolicy(r.Auth)
	return gr, nil
}

// authPolicy maps a route's auth to the gateway's; nil without one. The
// slices and maps are copied, so the snapshot shares nothing with the spec.
func authPolicy(a *spec.RouteAuth) *gateway.AuthPolicy {
	if a == nil {
		return nil
	}
	p := &gateway.AuthPolicy{}
	if j := a.JWT; j != nil {
		p.JWT = &gateway.JWTAuth{Issuer: j.Issuer, JWKSURL: j.JWKSURL, Audiences: slices.Clone(j.Audiences)}
	}
	if k := a.APIKeys; k != nil {
		keys := make(map[string]string, len(k.Keys))
		for digest, subject := range k.Keys {
			// Digests are compared as decoded bytes; lower case keeps the
			// snapshot (and so the route's policy key) the same however
			// the spec spelled them.
			keys[strings.ToLower(digest)] = subject
		}
		p.APIKeys = &gateway.APIKeys{Header: k.Header, Keys: keys}
	}
	return p
}
