package gateway

import (
	"fmt"
	"maps"
	"slices"
)

// LoadDelta replaces the routes of the apps d names and swaps in a table
// that differs from the current one only there: the routes of other apps
// keep their compiled form (and so their state, middleware and metric
// children), and only the host groups the change touches are rebuilt. It
// costs what the change holds, not what the table holds. As with Load, on
// error nothing changes, requests never wait for it, and requests in
// flight finish on the table they started with.
func (g *Gateway) LoadDelta(d Delta) error {
	if err := validateDelta(d); err != nil {
		return err
	}
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}
	apps := slices.Sorted(maps.Keys(d.Apps))
	n := 0
	for _, app := range apps {
		// A route ID may move between the apps the delta replaces, but
		// must not be taken from an app it leaves alone.
		for _, rc := range d.Apps[app] {
			if st := g.states[rc.ID]; st != nil && st.owner != app {
				if _, replaced := d.Apps[st.owner]; !replaced {
					return fmt.Errorf("%w: app %q: route %q: id: used by a route of app %q", ErrInvalidSnapshot, app, rc.ID, st.owner)
				}
			}
		}
		n += len(d.Apps[app])
	}
	b := g.newBuild(n)
	added := make([]*route, 0, n)
	for _, app := range apps {
		for _, rc := range d.Apps[app] {
			rt, err := b.route(rc)
			if err != nil {
				return b.abort(err)
			}
			added = append(added, rt)
		}
	}
	var removed []*route
	for _, app := range apps {
		removed = append(removed, g.byApp[app]...)
	}

	// Commit: nothing below can fail.
	b.commit(added)
	g.table.Store(g.table.Load().patch(d.Revision, removed, added))
	for _, rt := range removed {
		if b.states[rt.id] == nil {
			if rt.state.chain != nil {
				rt.state.chain.cancel()
			}
			delete(g.states, rt.id)
		}
	}
	maps.Copy(g.states, b.states)
	for _, app := range apps {
		delete(g.byApp, app)
	}
	for _, rt := range added {
		g.byApp[rt.cfg.App] = append(g.byApp[rt.cfg.App], rt)
	}
	g.addRefs(added, 1)
	g.addRefs(removed, -1)
	was := map[string]*upstream{}
	for _, rt := range removed {
		for _, t := range rt.tracks {
			for _, e := range t.eps {
				was[e.addr] = e.up
			}
		}
	}
	g.retireUpstreams(was)
	g.metrics.retireChanged(removed, added)
	g.log.Debug("gateway: table changed", "revision", d.Revision, "apps", len(apps), "routes", len(added))
	return nil
}

// validateDelta checks every route of d as validate does a snapshot's,
// and that each belongs to the app it is listed under.
func validateDelta(d Delta) error {
	seen := map[string]bool{}
	for _, app := range slices.Sorted(maps.Keys(d.Apps)) {
		for i, r := range d.Apps[app] {
			if r.ID == "" {
				return fmt.Errorf("%w: app %q: routes[%d].id: must not be empty", ErrInvalidSnapshot, app, i)
			}
			if seen[r.ID] {
				return fmt.Errorf("%w: route %q: id: used by more than one route", ErrInvalidSnapshot, r.ID)
			}
			seen[r.ID] = true
			if r.App != app {
				return fmt.Errorf("%w: route %q: app: must be %q, the app it is listed under, got %q", ErrInvalidSnapshot, r.ID, app, r.App)
			}
			if field, err := validateRoute(r); err != nil {
				return fmt.Errorf("%w: route %q: %s: %w", ErrInvalidSnapshot, r.ID, field, err)
			}
		}
	}
	return nil
}

// patch returns a table at revision rev without the routes removed and
// with the routes added. t is being read by requests, so nothing of it is
// changed: the host maps are copied (a copy of a map is far cheaper than
// building it again) and only the groups of the hosts the change touches
// are rebuilt and sorted.
func (t *table) patch(rev int64, removed, added []*route) *table {
	nt := *t
	nt.revision = rev
	if len(removed) == 0 && len(added) == 0 {
		return &nt // only the revision moved: share everything
	}
	gone := make(map[*route]bool, len(removed))
	for _, rt := range removed {
		gone[rt] = true
	}
	// The host groups the change touches (by host kind), with the routes
	// it adds to each.
	touched := [3]map[string][]*route{{}, {}, {}}
	for _, rt := range removed {
		if _, ok := touched[rt.hostKind][rt.host]; !ok {
			touched[rt.hostKind][rt.host] = nil
		}
	}
	for _, rt := range added {
		touched[rt.hostKind][rt.host] = append(touched[rt.hostKind][rt.host], rt)
	}
	// regroup rebuilds the group of one host: its old routes still served,
	// and the added ones, by precedence.
	regroup := func(old []*route, kind int, host string) []*route {
		add := touched[kind][host]
		out := make([]*route, 0, len(old)+len(add))
		for _, rt := range old {
			if !gone[rt] {
				out = append(out, rt)
			}
		}
		out = append(out, add...)
		slices.SortFunc(out, precedence)
		return out
	}
	// regroupAll copies a host map with the touched groups rebuilt.
	regroupAll := func(groups map[string][]*route, kind int) map[string][]*route {
		out := maps.Clone(groups)
		for h := range touched[kind] {
			if rs := regroup(groups[h], kind, h); len(rs) > 0 {
				out[h] = rs
			} else {
				delete(out, h)
			}
		}
		return out
	}
	if len(touched[hostExact]) > 0 {
		nt.exact = regroupAll(t.exact, hostExact)
	}
	if len(touched[hostWildcard]) > 0 {
		nt.wildcard = regroupAll(t.wildcard, hostWildcard)
		nt.wildLens = wildLens(nt.wildcard)
	}
	if len(touched[hostAny]) > 0 {
		nt.anyHost = regroup(t.anyHost, hostAny, "")
	}
	nt.routes = make([]*route, 0, len(t.routes)-len(removed)+len(added))
	for _, rt := range t.routes {
		if !gone[rt] {
			nt.routes = append(nt.routes, rt)
		}
	}
	nt.routes = append(nt.routes, added...)
	return &nt
}
