package gateway

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// tableShape is what requests see of a table: the route IDs of each host
// group in match order, the wildcard lengths, the revision and every
// route's config.
func tableShape(t *table) map[string]any {
	ids := func(rs []*route) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = r.id
		}
		return out
	}
	shape := map[string]any{"revision": t.revision, "any": ids(t.anyHost), "wildLens": fmt.Sprint(t.wildLens)}
	for h, rs := range t.exact {
		shape["exact "+h] = ids(rs)
	}
	for h, rs := range t.wildcard {
		shape["wild "+h] = ids(rs)
	}
	cfgs := map[string]Route{}
	for _, r := range t.routes {
		cfgs[r.id] = r.cfg
	}
	shape["routes"] = fmt.Sprintf("%+v", cfgs)
	return shape
}

// TestLoadDeltaMatchesLoad applies random deltas to one gateway and the
// whole resulting snapshots to another: their tables must route alike,
// and a delta must keep the compiled routes of the apps it leaves alone.
func TestLoadDeltaMatchesLoad(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	inc, full := newTestGateway(t, Options{}), newTestGateway(t, Options{})
	apps := map[string][]Route{}
	hosts := []string{"a.localhost", "b.localhost", "*.w.localhost", "*.x.w.localhost", ""}
	appRoutes := func(app string) []Route {
		var rs []Route
		for i := range rng.IntN(4) {
			r := simpleRoute(fmt.Sprintf("%s/%d", app, i), hosts[rng.IntN(len(hosts))], fmt.Sprintf("/%d", rng.IntN(3)),
				fmt.Sprintf("127.0.0.1:%d", 9000+rng.IntN(20)))
			r.App = app
			if rng.IntN(3) == 0 {
				r.PathType = PathExact
			}
			rs = append(rs, r)
		}
		return rs
	}
	for rev := int64(1); rev <= 300; rev++ {
		d := Delta{Revision: rev, Apps: map[string][]Route{}}
		for range 1 + rng.IntN(3) {
			app := fmt.Sprintf("app%d", rng.IntN(8))
			d.Apps[app] = appRoutes(app)
		}
		before := map[string]*route{}
		for _, rt := range inc.table.Load().routes {
			before[rt.id] = rt
		}
		if err := inc.LoadDelta(d); err != nil {
			t.Fatalf("revision %d: %v", rev, err)
		}
		for app, rs := range d.Apps {
			if len(rs) == 0 {
				delete(apps, app)
			} else {
				apps[app] = rs
			}
		}
		snap := Snapshot{Revision: rev}
		for _, app := range slices.Sorted(maps.Keys(apps)) {
			snap.Routes = append(snap.Routes, apps[app]...)
		}
		if err := full.Load(snap); err != nil {
			t.Fatal(err)
		}
		got, want := tableShape(inc.table.Load()), tableShape(full.table.Load())
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("revision %d: delta table\n%v\nfull table\n%v", rev, got, want)
		}
		for _, rt := range inc.table.Load().routes {
			if _, changed := d.Apps[rt.cfg.App]; !changed && before[rt.id] != rt {
				t.Fatalf("revision %d: route %s of an unchanged app was compiled again", rev, rt.id)
			}
		}
		if len(inc.states) != len(full.states) || len(inc.upRefs) != len(full.upRefs) {
			t.Fatalf("revision %d: %d states and %d addresses after deltas, %d and %d after loads",
				rev, len(inc.states), len(inc.upRefs), len(full.states), len(full.upRefs))
		}
		inc.upMu.Lock()
		pools := len(inc.upstreams)
		inc.upMu.Unlock()
		if pools != len(inc.upRefs) {
			t.Fatalf("revision %d: %d connection pools for %d addresses in use", rev, pools, len(inc.upRefs))
		}
	}
}

func TestLoadDeltaRejects(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	route := func(app, id string) Route {
		r := simpleRoute(id, app+".localhost", "/", "127.0.0.1:8080")
		r.App = app
		return r
	}
	if err := g.LoadDelta(Delta{Revision: 1, Apps: map[string][]Route{"a": {route("a", "a/0")}, "b": {route("b", "b/0")}}}); err != nil {
		t.Fatal(err)
	}
	bad := route("c", "c/0")
	bad.Path = "x"
	tests := []struct {
		desc string
		d    Delta
		want string
	}{
		{desc: "route of another app", d: Delta{Apps: map[string][]Route{"c": {route("d", "c/0")}}},
			want: `route "c/0": app: must be "c", the app it is listed under, got "d"`},
		{desc: "id of an app left alone", d: Delta{Apps: map[string][]Route{"c": {route("c", "a/0")}}},
			want: `app "c": route "a/0": id: used by a route of app "a"`},
		{desc: "id twice", d: Delta{Apps: map[string][]Route{"c": {route("c", "c/0"), route("c", "c/0")}}},
			want: `route "c/0": id: used by more than one route`},
		{desc: "invalid route", d: Delta{Apps: map[string][]Route{"c": {bad}}}, want: `route "c/0": path: must start with /`},
		{desc: "empty id", d: Delta{Apps: map[string][]Route{"c": {route("c", "")}}}, want: `app "c": routes[0].id`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			tt.d.Revision = 2
			err := g.LoadDelta(tt.d)
			if !errors.Is(err, ErrInvalidSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("LoadDelta: %v, want an error containing %q", err, tt.want)
			}
			if g.Revision() != 1 {
				t.Fatalf("revision %d after a refused delta, want 1", g.Revision())
			}
		})
	}
	t.Run("an id moves between replaced apps", func(t *testing.T) {
		if err := g.LoadDelta(Delta{Revision: 3, Apps: map[string][]Route{"a": nil, "c": {route("c", "a/0")}}}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestLoadDeltaKeepsState: the routes of apps a delta leaves alone keep
// their middleware, balancer, ejection and metric state; a replaced app's
// routes keep theirs where the policy did not change; a removed app's
// middleware ends and its series go.
func TestLoadDeltaKeepsState(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	var mu sync.Mutex
	ctxs := map[string]context.Context{}
	g := newTestGateway(t, Options{Middlewares: func(ctx context.Context, r Route, next http.Handler) (http.Handler, error) {
		built.Add(1)
		mu.Lock()
		ctxs[r.ID] = ctx
		mu.Unlock()
		var n atomic.Int64
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Count", fmt.Sprint(n.Add(1)))
			next.ServeHTTP(w, req)
		}), nil
	}})
	base := front(t, g)
	b1, b2 := backend(t, "b1", nil), backend(t, "b2", nil)
	route := func(app, addr string) Route {
		r := simpleRoute(app+"/0", app+".localhost", "/", addr)
		r.App = app
		r.Policy.RateLimit = &RateLimitPolicy{Rate: 100, Burst: 100}
		return r
	}
	if err := g.Load(Snapshot{Revision: 1, Routes: []Route{route("a", b1), route("b", b1)}}); err != nil {
		t.Fatal(err)
	}
	count := func(host string) string { return do(t, "GET", base, host, "/", nil, nil).header.Get("X-Count") }
	count("a.localhost")
	count("b.localhost")
	stA := g.states["a/0"]
	// b's endpoint changes; a is left alone.
	if err := g.LoadDelta(Delta{Revision: 2, Apps: map[string][]Route{"b": {route("b", b2)}}}); err != nil {
		t.Fatal(err)
	}
	if c := count("a.localhost"); c != "2" {
		t.Fatalf("untouched app: count %s, want 2", c)
	}
	if r := do(t, "GET", base, "b.localhost", "/", nil, nil); r.header.Get("X-Count") != "2" || !strings.HasPrefix(r.body, "b2 ") {
		t.Fatalf("changed app: count %s, body %q; want 2 from b2", r.header.Get("X-Count"), r.body)
	}
	if built.Load() != 2 || g.states["a/0"] != stA || g.Revision() != 2 {
		t.Fatalf("middleware built %d times (want 2), a's state kept: %v, revision %d", built.Load(), g.states["a/0"] == stA, g.Revision())
	}
	if n := testCounter(t, g, "berth_gateway_requests_total", map[string]string{"route": "b/0", "backend": b1}); n != 0 {
		t.Fatalf("b's old endpoint still exports %v requests", n)
	}
	if n := testCounter(t, g, "berth_gateway_requests_total", map[string]string{"route": "a/0", "backend": b1}); n != 2 {
		t.Fatalf("a's endpoint series: %v requests, want 2", n)
	}
	// b goes.
	if err := g.LoadDelta(Delta{Revision: 3, Apps: map[string][]Route{"b": nil}}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	ctxB := ctxs["b/0"]
	mu.Unlock()
	if ctxB.Err() == nil {
		t.Fatal("a removed app's middleware context is still alive")
	}
	if r := do(t, "GET", base, "b.localhost", "/", nil, nil); r.code != http.StatusNotFound {
		t.Fatalf("removed app answered %d", r.code)
	}
	if n := testCounter(t, g, "berth_gateway_requests_total", map[string]string{"route": "b/0"}); n != 0 {
		t.Fatalf("a removed route still exports %v requests", n)
	}
	if c := count("a.localhost"); c != "3" {
		t.Fatalf("untouched app after a removal: count %s, want 3", c)
	}
}

// TestReloadUnderLoadDelta is TestReloadUnderLoad with deltas: 100 of
// them, each replacing one app's routes while the other's keep serving,
// and no request may fail.
func TestReloadUnderLoadDelta(t *testing.T) {
	t.Parallel()
	g, base, routes := reloadFixture(t)
	delta := func(rev int) Delta {
		shop, other := routes(rev)
		if rev%2 == 0 {
			return Delta{Revision: int64(rev), Apps: map[string][]Route{"shop": {shop}}}
		}
		return Delta{Revision: int64(rev), Apps: map[string][]Route{"other": {other}}}
	}
	shop, other := routes(1)
	if err := g.LoadDelta(Delta{Revision: 1, Apps: map[string][]Route{"shop": {shop}, "other": {other}}}); err != nil {
		t.Fatal(err)
	}
	underLoad(t, base, "deltas", func(rev int) error { return g.LoadDelta(delta(rev)) })
}
