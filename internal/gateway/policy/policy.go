// Package policy puts a route's policy middlewares together in the order
// they must run, for the gateway's Options.Middlewares:
//
//	rate limit (key ip or header:<Name>)   cheapest refusal first: a flood
//	                                       is turned away before any JWT
//	                                       signature is checked
//	auth                                   strips client-sent X-Berth-*,
//	                                       verifies, sets the identity
//	rate limit (key jwt_sub)               needs the verified subject
//	breaker                                sees only requests that would
//	                                       reach the backend, so refusals
//	                                       above never count as its failures
//	proxy
//
// A route without an auth policy still gets X-Berth-Subject and
// X-Berth-Auth stripped from every request, so no client can claim an
// identity a service trusts.
//
// It is a package of its own because the policy packages import the
// gateway's config types, so the gateway cannot import them.
package policy

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/auth"
	"github.com/berthdev/berth/internal/gateway/breaker"
	"github.com/berthdev/berth/internal/gateway/ratelimit"
)

// Options are the process-wide settings the middlewares share.
type Options struct {
	Logger *slog.Logger
	// TrustedProxies are the proxies in front of the gateway whose
	// X-Forwarded-For the rate limit believes; none: RemoteAddr only.
	TrustedProxies []netip.Prefix
	// OnBreakerChange is told of every breaker state change (metrics).
	OnBreakerChange func(breaker.StateChange)
}

// Middlewares returns the function the gateway calls to wrap each route's
// proxy handler; assign it to gateway.Options.Middlewares.
func Middlewares(o Options) func(ctx context.Context, route gateway.Route, next http.Handler) (http.Handler, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(ctx context.Context, route gateway.Route, next http.Handler) (http.Handler, error) {
		p := route.Policy
		h := next
		var err error
		if b := p.Breaker; b != nil {
			opts := []breaker.Option{breaker.WithRoute(route.ID), breaker.WithLogger(log)}
			if o.OnBreakerChange != nil {
				opts = append(opts, breaker.OnStateChange(o.OnBreakerChange))
			}
			if h, err = breaker.New(ctx, h, *b, opts...); err != nil {
				return nil, err
			}
		}
		rl := p.RateLimit
		rlOpts := []ratelimit.Option{ratelimit.WithRoute(route.ID), ratelimit.WithLogger(log), ratelimit.WithTrustedProxies(o.TrustedProxies...)}
		if rl != nil && rl.Key == ratelimit.KeySubject {
			if p.Auth == nil {
				return nil, fmt.Errorf("%w: rate_limit.key: %s needs an auth policy on the route", ratelimit.ErrInvalidConfig, ratelimit.KeySubject)
			}
			if h, err = ratelimit.New(ctx, h, *rl, rlOpts...); err != nil {
				return nil, err
			}
		}
		if a := p.Auth; a != nil {
			if h, err = auth.New(ctx, h, *a, auth.WithRoute(route.ID), auth.WithLogger(log)); err != nil {
				return nil, err
			}
		} else {
			h = stripIdentity{h}
		}
		if rl != nil && rl.Key != ratelimit.KeySubject {
			if h, err = ratelimit.New(ctx, h, *rl, rlOpts...); err != nil {
				return nil, err
			}
		}
		return h, nil
	}
}

// stripIdentity removes client-sent identity headers on routes without auth.
type stripIdentity struct{ next http.Handler }

func (s stripIdentity) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth.StripIdentityHeaders(r.Header)
	s.next.ServeHTTP(w, r)
}
