package gatewayd

import (
	"reflect"

	"github.com/berthdev/berth/internal/gateway"
)

// deltaLoader is a gateway that can replace some apps' routes only;
// *gateway.Gateway is one.
type deltaLoader interface {
	LoadDelta(gateway.Delta) error
}

// load swaps in snap. The control plane answers whole snapshots, but most
// changes touch one app: once a table is served, only the apps whose
// routes differ from it are loaded (Gateway.LoadDelta), so the other apps'
// routes are not compiled again. Comparing routes costs far less than
// compiling them, and needs no trust in revisions.
func (f *follower) load(snap gateway.Snapshot) error {
	apps := routesByApp(snap.Routes)
	var err error
	if dl, ok := f.gw.(deltaLoader); ok && f.served != nil {
		err = dl.LoadDelta(gateway.Delta{Revision: snap.Revision, Apps: changedApps(f.served, apps)})
	} else {
		err = f.gw.Load(snap)
	}
	if err == nil {
		f.served = apps
	}
	return err
}

// routesByApp groups routes by app, each app's in their order.
func routesByApp(routes []gateway.Route) map[string][]gateway.Route {
	out := map[string][]gateway.Route{}
	for _, r := range routes {
		out[r.App] = append(out[r.App], r)
	}
	return out
}

// changedApps lists the apps whose routes differ from old to cur: cur's
// routes, or none for an app that is gone.
func changedApps(old, cur map[string][]gateway.Route) map[string][]gateway.Route {
	out := map[string][]gateway.Route{}
	for app, rs := range cur {
		if !reflect.DeepEqual(old[app], rs) {
			out[app] = rs
		}
	}
	for app := range old {
		if _, ok := cur[app]; !ok {
			out[app] = nil
		}
	}
	return out
}
