package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Load validates s, compiles it into a new routing table and swaps it in.
// On error nothing changes: the previous table keeps serving. Requests in
// flight finish on the table they started with. State kept per route ID
// (balancer positions, ejections, retry budgets, policy middleware) is
// carried into the new table.
func (g *Gateway) Load(s Snapshot) error {
	if err := validate(s); err != nil {
		return err
	}
	g.loadMu.Lock()
	defer g.loadMu.Unlock()
	if g.closed.Load() {
		return ErrClosed
	}

	states := make(map[string]*routeState, len(s.Routes))
	pending := map[string]*chainState{} // chains built by this load, by route ID
	routes := make([]*route, 0, len(s.Routes))
	ups := map[string]*upstream{}
	fail := func(err error) error {
		for _, c := range pending {
			c.cancel()
		}
		return err
	}
	for _, rc := range s.Routes {
		st := g.states[rc.ID]
		if st == nil {
			st = &routeState{id: rc.ID, tracks: map[string]*trackState{}, eps: map[string]*endpointState{}}
		}
		states[rc.ID] = st
		rt := g.compileRoute(rc, st, ups)
		key, err := chainKey(rc)
		if err != nil {
			return fail(fmt.Errorf("%w: route %q: %w", ErrInvalidSnapshot, rc.ID, err))
		}
		switch {
		case g.opts.Middlewares == nil:
		case st.chain != nil && st.chain.key == key:
			rt.handler = st.chain.handler
		default:
			ctx, cancel := context.WithCancel(g.ctx)
			h, err := g.opts.Middlewares(ctx, rc, g.inner)
			if err != nil {
				cancel()
				return fail(fmt.Errorf("%w: route %q: policy: %w", ErrInvalidSnapshot, rc.ID, err))
			}
			if ih, ok := h.(*innerHandler); ok && ih == g.inner {
				h = nil // no policy: skip the context hop
			}
			pending[rc.ID] = &chainState{key: key, handler: h, cancel: cancel}
			rt.handler = h
		}
		routes = append(routes, rt)
	}

	// Commit: nothing below can fail.
	for id, c := range pending {
		if old := states[id].chain; old != nil {
			old.cancel()
		}
		states[id].chain = c
	}
	for _, rt := range routes {
		rt.state.prune(rt)
	}
	g.table.Store(newTable(s.Revision, routes))
	for id, st := range g.states {
		if states[id] == nil && st.chain != nil {
			st.chain.cancel()
		}
	}
	g.states = states
	g.retireUpstreams(ups)
	g.metrics.retire(routes)
	g.log.Debug("gateway: table loaded", "revision", s.Revision, "routes", len(routes))
	return nil
}

// chainKey is what a route's middleware is built from: the route without
// its tracks, so endpoint and weight changes keep breakers and buckets.
func chainKey(r Route) (string, error) {
	r.Tracks = nil
	b, err := json.Marshal(r)
	return string(b), err
}

func (g *Gateway) compileRoute(rc Route, st *routeState, ups map[string]*upstream) *route {
	rt := &route{
		cfg:       rc,
		id:        rc.ID,
		exactPath: rc.PathType == PathExact,
		methods:   canonicalMethods(rc.Methods),
		headers:   canonicalHeaders(rc.Headers),
		state:     st,
		sticky:    rc.Sticky,
		timeout:   rc.Policy.Timeout,
		maxBody:   rc.Policy.MaxBodyBytes,
	}
	rt.path = routePath(rc.Path, rt.exactPath)
	host := strings.ToLower(strings.TrimSuffix(rc.Host, "."))
	switch {
	case host == "" || host == "*":
		rt.hostKind = hostAny
	case strings.HasPrefix(host, "*."):
		rt.hostKind, rt.host = hostWildcard, host[1:]
	default:
		rt.hostKind, rt.host = hostExact, strings.Trim(host, "[]")
	}
	rt.conds = len(rt.headers)
	if rt.methods != nil {
		rt.conds++
	}
	if rt.timeout == 0 {
		rt.timeout = DefaultTimeout
	}
	if rt.maxBody == 0 {
		rt.maxBody = DefaultMaxBodyBytes
	}
	if rc.Policy.LB == LBLeastRequest {
		rt.lb = lbLeastRequest
	}
	rt.retry = newRetryConf(rc.Policy.Retry)
	if st.m == nil || st.mApp != rc.App {
		// A new route, or one that moved to another app: resolve its
		// series afresh (also its tracks' and endpoints').
		st.m, st.mApp = g.metrics.forRoute(rc), rc.App
		for _, ts := range st.tracks {
			ts.m, ts.epM = nil, nil
		}
	}
	rt.m = st.m

	for _, tc := range rc.Tracks {
		t := &track{
			name:       tc.Name,
			release:    tc.Release,
			weight:     tc.Weight,
			state:      st.trackState(tc.Name),
			releaseHdr: []string{strconv.Itoa(tc.Release)},
			cookieHdr:  []string{StickyCookie + "=" + tc.Name + "; Path=/; HttpOnly; SameSite=Lax"},
		}
		ts := t.state
		if ts.m == nil {
			ts.m = g.metrics.forTrack(rc, tc.Name)
		}
		t.m = ts.m
		if ts.epM == nil {
			ts.epM = map[string]*endpointMetrics{}
		}
		for _, ec := range tc.Endpoints {
			em := ts.epM[ec.Addr]
			if em == nil {
				em = g.metrics.forEndpoint(rc, tc.Name, ec.Addr)
				ts.epM[ec.Addr] = em
			}
			e := &endpoint{
				addr:       ec.Addr,
				instance:   ec.Instance,
				release:    tc.Release,
				releaseHdr: t.releaseHdr,
				up:         g.upstream(ec.Addr, ups),
				st:         st.endpointState(ec.Addr),
				m:          em,
			}
			if ec.Release != 0 && ec.Release != tc.Release {
				e.release = ec.Release
				e.releaseHdr = []string{strconv.Itoa(ec.Release)}
			}
			t.eps = append(t.eps, e)
		}
		if rt.fallback == nil && len(t.eps) > 0 {
			rt.fallback = t
		}
		rt.tracks = append(rt.tracks, t)
	}
	rt.multiTrack = len(rt.tracks) > 1
	rt.showRelease = rt.multiTrack
	rt.cycle = smoothCycle(rt.tracks)
	return rt
}

// prune forgets state of tracks and endpoints the route no longer has, so
// the maps do not grow with every instance that ever existed.
func (s *routeState) prune(rt *route) {
	keepT := make(map[string]bool, len(rt.tracks))
	keepE := map[string]bool{}
	for _, t := range rt.tracks {
		keepT[t.name] = true
		for _, e := range t.eps {
			keepE[e.addr] = true
		}
		// Endpoint series the track lost are deleted by metrics.retire:
		// forget their children so a returning endpoint gets live ones.
		if len(t.state.epM) > len(t.eps) {
			inTrack := make(map[string]bool, len(t.eps))
			for _, e := range t.eps {
				inTrack[e.addr] = true
			}
			for a := range t.state.epM {
				if !inTrack[a] {
					delete(t.state.epM, a)
				}
			}
		}
	}
	for n := range s.tracks {
		if !keepT[n] {
			delete(s.tracks, n)
		}
	}
	for a := range s.eps {
		if !keepE[a] {
			delete(s.eps, a)
		}
	}
}
