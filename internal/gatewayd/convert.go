package gatewayd

import (
	"maps"
	"slices"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/pkg/api"
)

// fromAPI converts the API's snapshot into the gateway's. The two types
// have the same JSON shape (pkg/ must not import internal/, so the wire
// type is a copy); TestConvertCoversEveryField fills every field of
// gateway.Snapshot by reflection, so a field added on one side only fails
// it.
func fromAPI(s api.GatewaySnapshot) gateway.Snapshot {
	out := gateway.Snapshot{Revision: s.Revision, Routes: make([]gateway.Route, 0, len(s.Routes))}
	for _, r := range s.Routes {
		gr := gateway.Route{
			ID:       r.ID,
			App:      r.App,
			Service:  r.Service,
			Host:     r.Host,
			Path:     r.Path,
			PathType: r.PathType,
			Methods:  slices.Clone(r.Methods),
			Sticky:   r.Sticky,
			Policy:   policyFromAPI(r.Policy),
		}
		for _, h := range r.Headers {
			gr.Headers = append(gr.Headers, gateway.HeaderMatch{Name: h.Name, Value: h.Value})
		}
		for _, t := range r.Tracks {
			gt := gateway.Track{Name: t.Name, Release: t.Release, Weight: t.Weight}
			for _, e := range t.Endpoints {
				gt.Endpoints = append(gt.Endpoints, gateway.Endpoint{Addr: e.Addr, Instance: e.Instance, Release: e.Release})
			}
			gr.Tracks = append(gr.Tracks, gt)
		}
		out.Routes = append(out.Routes, gr)
	}
	return out
}

func policyFromAPI(p api.GatewayPolicy) gateway.Policy {
	out := gateway.Policy{Timeout: p.Timeout, MaxBodyBytes: p.MaxBodyBytes, LB: p.LB}
	if r := p.Retry; r != nil {
		out.Retry = &gateway.RetryPolicy{Attempts: r.Attempts, PerTryTimeout: r.PerTryTimeout,
			SafeMethods: slices.Clone(r.SafeMethods), Budget: r.Budget}
	}
	if b := p.Breaker; b != nil {
		out.Breaker = &gateway.BreakerPolicy{
			Window: b.Window, MinRequests: b.MinRequests, ErrorRatio: b.ErrorRatio,
			ConsecutiveFailures: b.ConsecutiveFailures, LatencyQuantile: b.LatencyQuantile,
			LatencyThreshold: b.LatencyThreshold, OpenFor: b.OpenFor, HalfOpenRequests: b.HalfOpenRequests,
		}
	}
	if rl := p.RateLimit; rl != nil {
		out.RateLimit = &gateway.RateLimitPolicy{Rate: rl.Rate, Burst: rl.Burst, Key: rl.Key}
	}
	if a := p.Auth; a != nil {
		out.Auth = &gateway.AuthPolicy{}
		if j := a.JWT; j != nil {
			out.Auth.JWT = &gateway.JWTAuth{Issuer: j.Issuer, JWKSURL: j.JWKSURL, Audiences: slices.Clone(j.Audiences)}
		}
		if k := a.APIKeys; k != nil {
			out.Auth.APIKeys = &gateway.APIKeys{Header: k.Header, Keys: maps.Clone(k.Keys)}
		}
	}
	return out
}
