package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// routeFeed keeps the gateway's table equal to the routes of every app's
// serving release. It follows the store's change log, so it recompiles only
// when something changed, and it is the same feed a standalone gateway will
// follow over the watch API.
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
			routes, err := f.compile(ctx)
			if err != nil {
				f.log.Error("gateway: compile routes", "err", err)
			} else {
				f.gw.Update(routes)
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

func (f *routeFeed) compile(ctx context.Context) ([]gateway.Route, error) {
	apps, err := f.st.ListApps(ctx)
	if err != nil {
		return nil, err
	}
	var out []gateway.Route
	for _, a := range apps {
		if a.Deleting || a.Status.Serving == 0 {
			continue
		}
		rel, err := f.st.GetRelease(ctx, a.Name, a.Status.Serving)
		if err != nil {
			return nil, fmt.Errorf("app %s release %d: %w", a.Name, a.Status.Serving, err)
		}
		var s spec.App
		if err := json.Unmarshal(rel.Spec, &s); err != nil {
			return nil, fmt.Errorf("app %s release %d: decode spec: %w", a.Name, rel.Number, err)
		}
		for _, r := range s.Routes {
			port := a.Ports[r.Service]
			if port == 0 {
				continue // the service has no address yet
			}
			out = append(out, gateway.Route{
				App: a.Name, Host: r.Host, Path: r.Path,
				Backend: fmt.Sprintf("127.0.0.1:%d", port),
			})
		}
	}
	return out, nil
}
