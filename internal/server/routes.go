package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// routeFeed keeps the gateway's table equal to the routes of every app's
// serving release, each sent straight to the service's ready instances
// (the gateway balances per request; the service's stable proxy port is
// for service-to-service traffic). It follows the store's change log, so
// it recompiles only when something changed, and it is the same feed a
// standalone gateway will follow over the watch API.
type routeFeed struct {
	st   store.Store
	gw   *gateway.Gateway
	log  *slog.Logger
	wake <-chan struct{} // pokes after every committed write
	tick time.Duration   // fallback, for writes made by another process
}

func (f *routeFeed) run(ctx context.Context) {
	var seen int64 = -1
	t := time.NewTicker(f.tick)
	defer t.Stop()
	for {
		rev, err := f.st.LastRevision(ctx)
		if err == nil && rev != seen {
			snap, err := f.compile(ctx, rev)
			if err == nil {
				err = f.gw.Load(snap)
			}
			if err != nil {
				f.log.Error("gateway: routes not updated", "revision", rev, "err", err)
			} else {
				seen = rev
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-f.wake:
		case <-t.C:
		}
	}
}

// compile builds the snapshot: per route of an app's serving release, one
// stable track of weight 100 holding the service's ready instances, or,
// while a canary runs, a stable and a canary track split by its weight.
func (f *routeFeed) compile(ctx context.Context, rev int64) (gateway.Snapshot, error) {
	snap := gateway.Snapshot{Revision: rev}
	apps, err := f.st.ListApps(ctx)
	if err != nil {
		return snap, err
	}
	for _, a := range apps {
		if a.Deleting || a.Status.Serving == 0 {
			continue
		}
		rel, err := f.st.GetRelease(ctx, a.Name, a.Status.Serving)
		if err != nil {
			return snap, fmt.Errorf("app %s release %d: %w", a.Name, a.Status.Serving, err)
		}
		var s spec.App
		if err := json.Unmarshal(rel.Spec, &s); err != nil {
			return snap, fmt.Errorf("app %s release %d: decode spec: %w", a.Name, rel.Number, err)
		}
		canary, targetLive, err := f.runningCanary(ctx, a)
		if err != nil {
			return snap, err
		}
		st := a.Status
		if !targetLive {
			// The release being rolled out was aborted or failed: its
			// instances take no traffic, even before the reconciler has
			// written that into the status.
			st.Release = st.Serving
		}
		for i, r := range s.Routes {
			gr, err := gatewayRoute(a.Name+"/"+strconv.Itoa(i), a.Name, r)
			if err != nil {
				return snap, fmt.Errorf("app %s release %d: routes[%d]: %w", a.Name, rel.Number, i, err)
			}
			if canary == nil {
				gr.Tracks = []gateway.Track{{
					Name:      gateway.TrackStable,
					Release:   a.Status.Serving,
					Weight:    100,
					Endpoints: readyEndpoints(st, r.Service),
				}}
			} else {
				gr.Tracks = []gateway.Track{{
					Name:      gateway.TrackStable,
					Release:   a.Status.Serving,
					Weight:    100 - canary.Weight,
					Endpoints: releaseEndpoints(a.Status, r.Service, a.Status.Serving),
				}, {
					Name:      gateway.TrackCanary,
					Release:   canary.Release,
					Weight:    canary.Weight,
					Endpoints: releaseEndpoints(a.Status, r.Service, canary.Release),
				}}
			}
			snap.Routes = append(snap.Routes, gr)
		}
	}
	return snap, nil
}

// runningCanary returns the app's canary when one really runs beside the
// serving release: of the target release, not serving itself, not ended.
// A canary record the reconciler has not cleared yet (the release was just
// aborted, failed or replaced) must not take traffic. targetLive is false
// when the target release failed (or was aborted): its instances take no
// traffic at all.
func (f *routeFeed) runningCanary(ctx context.Context, a store.App) (c *store.Canary, targetLive bool, err error) {
	if a.TargetRelease == 0 || a.TargetRelease == a.Status.Serving {
		return nil, false, nil
	}
	rel, err := f.st.GetRelease(ctx, a.Name, a.TargetRelease)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("app %s release %d: %w", a.Name, a.TargetRelease, err)
	}
	// A deployed target is live too: it is marked deployed a moment before
	// the status names it serving, and the old instances may be gone.
	targetLive = rel.State != api.ReleaseFailed
	c = a.Canary
	if rel.State != api.ReleasePending && rel.State != api.ReleaseProgressing ||
		c == nil || c.Release != a.TargetRelease || c.Weight < 0 || c.Weight > 100 {
		return nil, targetLive, nil
	}
	return c, true, nil
}

// gatewayRoute maps a spec route's match and policy fields to the
// gateway's; the tracks are left to the caller.
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
	return gr, nil
}

// readyEndpoints lists the ready instances of svc that may take the
// serving release's traffic: the serving release's own, and, during a
// rolling update, the new release's (the old ones may all be gone before
// the new release is marked serving). Instances of a release that failed
// are left out. Endpoint.Release records which release each one runs.
func readyEndpoints(st api.AppStatus, svc string) []gateway.Endpoint {
	return endpoints(st, svc, func(rel int) bool {
		return rel == st.Serving || (rel == st.Release && st.Phase != api.PhaseFailed)
	})
}

// releaseEndpoints lists the ready instances of svc that run release rel:
// one track of a canary.
func releaseEndpoints(st api.AppStatus, svc string, rel int) []gateway.Endpoint {
	return endpoints(st, svc, func(r int) bool { return r == rel })
}

// endpoints lists the ready instances of svc whose release passes keep,
// sorted by address.
func endpoints(st api.AppStatus, svc string, keep func(release int) bool) []gateway.Endpoint {
	var eps []gateway.Endpoint
	for _, ss := range st.Services {
		if ss.Name != svc {
			continue
		}
		for _, in := range ss.Instances {
			if !in.Ready || in.Port <= 0 || in.Port > 65535 || !keep(in.Release) {
				continue
			}
			host := in.Host
			if host == "" {
				host = "127.0.0.1"
			}
			eps = append(eps, gateway.Endpoint{
				Addr:     net.JoinHostPort(host, strconv.Itoa(in.Port)),
				Instance: in.ID,
				Release:  in.Release,
			})
		}
	}
	slices.SortFunc(eps, func(a, b gateway.Endpoint) int { return strings.Compare(a.Addr, b.Addr) })
	// Two instances can never share an address, but a stale status must not
	// make the whole snapshot invalid.
	return slices.CompactFunc(eps, func(a, b gateway.Endpoint) bool { return a.Addr == b.Addr })
}
