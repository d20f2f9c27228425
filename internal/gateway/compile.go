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
	b := g.newBuild(len(s.Routes))
	routes := make([]*route, 0, len(s.Routes))
	for _, rc := range s.Routes {
		rt, err := b.route(rc)
		if err != nil {
			return b.abort(err)
		}
		routes = append(routes, rt)
	}

	// Commit: nothing below can fail.
	b.commit(routes)
	g.table.Store(newTable(s.Revision, routes))
	for id, st := range g.states {
		if b.states[id] == nil && st.chain != nil {
			st.chain.cancel()
		}
	}
	g.states = b.states
	g.byApp = map[string][]*route{}
	for _, rt := range routes {
		g.byApp[rt.cfg.App] = append(g.byApp[rt.cfg.App], rt)
	}
	clear(g.upRefs)
	g.addRefs(routes, 1)
	g.retireUpstreams(nil)
	g.metrics.retire(routes)
	g.log.Debug("gateway: table loaded", "revision", s.Revision, "routes", len(routes))
	return nil
}

// build is one Load's or LoadDelta's work in progress: nothing it holds
// is visible to requests until commit.
type build struct {
	g       *Gateway
	states  map[string]*routeState // of the routes compiled, by ID
	pending map[string]*chainState // middleware built by this load, by route ID
	ups     map[string]*upstream   // pools the compiled routes use, by address
}

func (g *Gateway) newBuild(n int) *build {
	return &build{g: g, states: make(map[string]*routeState, n), pending: map[string]*chainState{}, ups: map[string]*upstream{}}
}

// route compiles rc with the state its ID already has, and its policy
// middleware, rebuilt only when the policies changed.
func (b *build) route(rc Route) (*route, error) {
	g := b.g
	st := g.states[rc.ID]
	if st == nil {
		st = &routeState{id: rc.ID, tracks: map[string]*trackState{}, eps: map[string]*endpointState{}}
	}
	b.states[rc.ID] = st
	rt := g.compileRoute(rc, st, b.ups)
	key, err := chainKey(rc)
	if err != nil {
		return nil, fmt.Errorf("%w: route %q: %w", ErrInvalidSnapshot, rc.ID, err)
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
			return nil, fmt.Errorf("%w: route %q: policy: %w", ErrInvalidSnapshot, rc.ID, err)
		}
		if ih, ok := h.(*innerHandler); ok && ih == g.inner {
			h = nil // no policy: skip the context hop
		}
		b.pending[rc.ID] = &chainState{key: key, handler: h, cancel: cancel}
		rt.handler = h
	}
	return rt, nil
}

// abort undoes what the build started: its middleware, and the pools it
// opened that no served route uses.
func (b *build) abort(err error) error {
	for _, c := range b.pending {
		c.cancel()
	}
	b.g.retireUpstreams(b.ups)
	return err
}

// commit installs the middleware built for routes and forgets the state
// of tracks and endpoints they no longer have.
func (b *build) commit(routes []*route) {
	for id, c := range b.pending {
		if old := b.states[id].chain; old != nil {
			old.cancel()
		}
		b.states[id].chain = c
	}
	for _, rt := range routes {
		rt.state.prune(rt)
		rt.state.owner = rt.cfg.App
	}
}

// addRefs counts (by +1 or -1) the routes' uses of each endpoint address,
// so a change can tell which connection pools no route uses any more.
func (g *Gateway) addRefs(routes []*route, by int) {
	for _, rt := range routes {
		for _, t := range rt.tracks {
			for _, e := range t.eps {
				if n := g.upRefs[e.addr] + by; n > 0 {
					g.upRefs[e.addr] = n
				} else {
					delete(g.upRefs, e.addr)
				}
			}
		}
	}
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
