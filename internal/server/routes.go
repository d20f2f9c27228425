package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
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
// stable track of weight 100 holding the service's ready instances.
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
		for i, r := range s.Routes {
			snap.Routes = append(snap.Routes, gateway.Route{
				ID:      a.Name + "/" + strconv.Itoa(i),
				App:     a.Name,
				Service: r.Service,
				Host:    r.Host,
				Path:    r.Path,
				Tracks: []gateway.Track{{
					Name:      gateway.TrackStable,
					Release:   a.Status.Serving,
					Weight:    100,
					Endpoints: readyEndpoints(a.Status, r.Service),
				}},
			})
		}
	}
	return snap, nil
}

// readyEndpoints lists the ready instances of svc that may take the
// serving release's traffic: the serving release's own, and, during a
// rolling update, the new release's (the old ones may all be gone before
// the new release is marked serving). Instances of a release that failed
// are left out. Endpoint.Release records which release each one runs.
func readyEndpoints(st api.AppStatus, svc string) []gateway.Endpoint {
	var eps []gateway.Endpoint
	for _, ss := range st.Services {
		if ss.Name != svc {
			continue
		}
		for _, in := range ss.Instances {
			if !in.Ready || in.Port <= 0 || in.Port > 65535 {
				continue
			}
			if in.Release != st.Serving && (in.Release != st.Release || st.Phase == api.PhaseFailed) {
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
	slices.SortFunc(eps, func(a, b gateway.Endpoint) int {
		if a.Addr < b.Addr {
			return -1
		}
		if a.Addr > b.Addr {
			return 1
		}
		return 0
	})
	// Two instances can never share an address, but a stale status must not
	// make the whole snapshot invalid.
	return slices.CompactFunc(eps, func(a, b gateway.Endpoint) bool { return a.Addr == b.Addr })
}
