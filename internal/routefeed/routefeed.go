// Package routefeed compiles the gateway's routing table from the store:
// the routes of every app's serving release, each sent to the ready
// instances of its service, split into a stable and a canary track while a
// canary runs. The embedded gateway of `berth server` loads what Compile
// returns directly; standalone gateways fetch the same snapshot over the
// API (GET /api/v1/gateway/snapshot) and follow the watch stream from its
// revision.
package routefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Reader is what Compile reads; store.Store and store.Tx satisfy it.
type Reader interface {
	LastRevision(ctx context.Context) (int64, error)
	ListApps(ctx context.Context) ([]store.App, error)
	GetRelease(ctx context.Context, app string, number int) (store.Release, error)
}

// Compile builds the snapshot: per route of an app's serving release, one
// stable track of weight 100 holding the service's ready instances, or,
// while a canary runs, a stable and a canary track split by its weight.
//
// The snapshot's revision is read before anything else. Every change is
// committed together with its event, so the apps read afterwards reflect
// at least that revision: a follower that watches from it sees an event
// for every later change, and never misses one. (The snapshot may already
// hold some of those changes; the follower then recompiles once for
// nothing.) Reading without a transaction keeps Compile off the store's
// single writer, so it never delays a write.
//
// Compile serves the apps of no environment (the local runtime's, which
// the server's embedded gateway and standalone gateways beside it reach);
// CompileEnv serves one environment's, for the gateway Berth runs in that
// environment's cluster.
func Compile(ctx context.Context, st Reader) (gateway.Snapshot, error) {
	return CompileEnv(ctx, st, "")
}

// CompileEnv builds the snapshot of the apps of environment env ("" for
// the apps of no environment). On a cluster the instances' addresses are
// their pods' endpoints from the Services' EndpointSlices (the Kubernetes
// runtime reports an instance ready, at that address, only once it is a
// ready endpoint), so the environment's gateway balances per request over
// pods and splits tracks by the canary weight itself.
func CompileEnv(ctx context.Context, st Reader, env string) (gateway.Snapshot, error) {
	rev, err := st.LastRevision(ctx)
	if err != nil {
		return gateway.Snapshot{}, fmt.Errorf("routefeed: last revision: %w", err)
	}
	snap := gateway.Snapshot{Revision: rev, Routes: []gateway.Route{}}
	apps, err := st.ListApps(ctx)
	if err != nil {
		return snap, fmt.Errorf("routefeed: list apps: %w", err)
	}
	for _, a := range apps {
		if a.Env != env {
			continue
		}
		routes, err := appRoutes(ctx, st, a)
		if err != nil {
			return snap, fmt.Errorf("routefeed: %w", err)
		}
		snap.Routes = append(snap.Routes, routes...)
	}
	return snap, nil
}

// appRoutes compiles one app's routes; none while it is being deleted or
// before a release serves.
func appRoutes(ctx context.Context, st Reader, a store.App) ([]gateway.Route, error) {
	if a.Deleting || a.Status.Serving == 0 {
		return nil, nil
	}
	s, err := ServingSpec(ctx, st, a)
	if err != nil {
		return nil, err
	}
	canary, targetLive, err := runningCanary(ctx, st, a)
	if err != nil {
		return nil, err
	}
	status := a.Status
	if !targetLive {
		// The release being rolled out was aborted or failed: its
		// instances take no traffic, even before the reconciler has
		// written that into the status.
		status.Release = status.Serving
	}
	routes := make([]gateway.Route, 0, len(s.Routes))
	for i, r := range s.Routes {
		gr, err := gatewayRoute(a.Name+"/"+strconv.Itoa(i), a.Name, r)
		if err != nil {
			return nil, fmt.Errorf("app %s release %d: routes[%d]: %w", a.Name, a.Status.Serving, i, err)
		}
		if canary == nil {
			gr.Tracks = []gateway.Track{{
				Name:      gateway.TrackStable,
				Release:   a.Status.Serving,
				Weight:    100,
				Endpoints: readyEndpoints(status, r.Service),
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
		routes = append(routes, gr)
	}
	return routes, nil
}

// runningCanary returns the app's canary when one really runs beside the
// serving release: of the target release, not serving itself, not ended.
// A canary record the reconciler has not cleared yet (the release was just
// aborted, failed or replaced) must not take traffic. targetLive is false
// when the target release failed (or was aborted): its instances take no
// traffic at all.
func runningCanary(ctx context.Context, st Reader, a store.App) (c *store.Canary, targetLive bool, err error) {
	if a.TargetRelease == 0 || a.TargetRelease == a.Status.Serving {
		return nil, false, nil
	}
	rel, err := st.GetRelease(ctx, a.Name, a.TargetRelease)
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

// ServingSpec reads the spec of the app's serving release.
func ServingSpec(ctx context.Context, st Reader, a store.App) (spec.App, error) {
	rel, err := st.GetRelease(ctx, a.Name, a.Status.Serving)
	if err != nil {
		return spec.App{}, fmt.Errorf("app %s release %d: %w", a.Name, a.Status.Serving, err)
	}
	var s spec.App
	if err := json.Unmarshal(rel.Spec, &s); err != nil {
		return spec.App{}, fmt.Errorf("app %s release %d: decode spec: %w", a.Name, rel.Number, err)
	}
	return s, nil
}
