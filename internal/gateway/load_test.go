package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoadRejectsBadRoutes(t *testing.T) {
	t.Parallel()
	ok := func() Route { return simpleRoute("shop/0", "shop.localhost", "/", "127.0.0.1:8080") }
	tests := []struct {
		desc   string
		mutate func(*Route)
		want   string
	}{
		{desc: "empty id", mutate: func(r *Route) { r.ID = "" }, want: "routes[0].id"},
		{desc: "port in host", mutate: func(r *Route) { r.Host = "shop.localhost:80" }, want: `route "shop/0": host`},
		{desc: "wildcard in the middle", mutate: func(r *Route) { r.Host = "a.*.com" }, want: "host"},
		{desc: "relative path", mutate: func(r *Route) { r.Path = "api" }, want: "path: must start with /"},
		{desc: "path type", mutate: func(r *Route) { r.PathType = "regex" }, want: "path_type"},
		{desc: "method", mutate: func(r *Route) { r.Methods = []string{"GET POST"} }, want: "methods[0]"},
		{desc: "header name", mutate: func(r *Route) { r.Headers = []HeaderMatch{{Name: "a b"}} }, want: "headers[0].name"},
		{desc: "no tracks", mutate: func(r *Route) { r.Tracks = nil }, want: "tracks: at least one"},
		{desc: "weights", mutate: func(r *Route) { r.Tracks[0].Weight = 90 }, want: "weights must sum to 100, got 90"},
		{desc: "weight range", mutate: func(r *Route) {
			r.Tracks = append(r.Tracks, Track{Name: TrackCanary, Weight: -10})
			r.Tracks[0].Weight = 110
		}, want: "tracks[0].weight"},
		{desc: "duplicate track", mutate: func(r *Route) {
			r.Tracks = append(r.Tracks, Track{Name: TrackStable})
		}, want: "tracks[1].name"},
		{desc: "endpoint addr", mutate: func(r *Route) { r.Tracks[0].Endpoints[0].Addr = "localhost" }, want: "tracks[0].endpoints[0].addr: must be host:port"},
		{desc: "endpoint port", mutate: func(r *Route) { r.Tracks[0].Endpoints[0].Addr = "127.0.0.1:0" }, want: "endpoints[0].addr: port"},
		{desc: "lb", mutate: func(r *Route) { r.Policy.LB = "random" }, want: "policy.lb"},
		{desc: "retry attempts", mutate: func(r *Route) { r.Policy.Retry = &RetryPolicy{} }, want: "policy.retry.attempts"},
		{desc: "retry budget", mutate: func(r *Route) { r.Policy.Retry = &RetryPolicy{Attempts: 2, Budget: 2} }, want: "policy.retry.budget"},
		{desc: "timeout", mutate: func(r *Route) { r.Policy.Timeout = -time.Second }, want: "policy.timeout"},
		{desc: "body limit", mutate: func(r *Route) { r.Policy.MaxBodyBytes = -2 }, want: "policy.max_body_bytes"},
	}
	g := newTestGateway(t, Options{})
	mustLoad(t, g, ok())
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			r := ok()
			tt.mutate(&r)
			err := g.Load(Snapshot{Revision: 2, Routes: []Route{r}})
			if err == nil || !errors.Is(err, ErrInvalidSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load: %v, want an error containing %q", err, tt.want)
			}
			if g.Revision() != 1 {
				t.Fatalf("revision %d after a refused load, want 1", g.Revision())
			}
		})
	}
	t.Run("duplicate id", func(t *testing.T) {
		t.Parallel()
		err := g.Load(Snapshot{Routes: []Route{ok(), ok()}})
		if err == nil || !strings.Contains(err.Error(), `route "shop/0": id: used by more than one route`) {
			t.Fatalf("Load: %v", err)
		}
	})
}

// TestFailedLoadKeepsServing: a refused snapshot leaves the previous table
// serving, and a middleware error names the route.
func TestFailedLoadKeepsServing(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{Middlewares: func(_ context.Context, r Route, next http.Handler) (http.Handler, error) {
		if r.Policy.RateLimit != nil && r.Policy.RateLimit.Rate <= 0 {
			return nil, errors.New("rate_limit.rate: must be positive")
		}
		return next, nil
	}})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("a/0", "shop.localhost", "/", backend(t, "v1", nil)))
	bad := simpleRoute("a/0", "shop.localhost", "/", backend(t, "v2", nil))
	bad.Policy.RateLimit = &RateLimitPolicy{}
	err := g.Load(Snapshot{Revision: 2, Routes: []Route{bad}})
	if err == nil || !strings.Contains(err.Error(), `route "a/0": policy: rate_limit.rate: must be positive`) {
		t.Fatalf("Load: %v", err)
	}
	if r := do(t, "GET", base, "shop.localhost", "/", nil, nil); r.code != 200 || !strings.HasPrefix(r.body, "v1 ") {
		t.Fatalf("after a refused load: %d %q", r.code, r.body)
	}
}

// TestReloadUnderLoad reloads 100 times while clients send requests: no
// request may fail, and every answer comes from an instance of the table
// in force.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	g, base, routes := reloadFixture(t)
	snapshot := func(rev int) Snapshot {
		shop, other := routes(rev)
		return Snapshot{Revision: int64(rev), Routes: []Route{shop, other}}
	}
	if err := g.Load(snapshot(1)); err != nil {
		t.Fatal(err)
	}
	underLoad(t, base, "reloads", func(rev int) error { return g.Load(snapshot(rev)) })
}

// reloadFixture is a gateway served at base, and the routes of apps shop
// and other at each revision: they rotate through four backends, and
// through one- and two-track shapes, so tracks, endpoints and pools come
// and go, and other's route ID changes.
func reloadFixture(t *testing.T) (g *Gateway, base string, routes func(rev int) (shop, other Route)) {
	t.Helper()
	g = newTestGateway(t, Options{})
	base = front(t, g)
	var addrs []string
	for i := range 4 {
		addrs = append(addrs, backend(t, fmt.Sprintf("b%d", i), nil))
	}
	return g, base, func(rev int) (Route, Route) {
		shop := simpleRoute("shop/0", "shop.localhost", "/", addrs[rev%4], addrs[(rev+1)%4])
		shop.App = "shop"
		if rev%3 == 0 {
			shop.Tracks[0].Weight = 70
			shop.Tracks = append(shop.Tracks, Track{Name: TrackCanary, Release: 2, Weight: 30,
				Endpoints: []Endpoint{{Addr: addrs[(rev+2)%4]}}})
		}
		other := simpleRoute(fmt.Sprintf("other/%d", rev%5), "other.localhost", "/", addrs[rev%4])
		other.App = "other"
		return shop, other
	}
}

// underLoad calls change for revisions 2 to 101, 3 ms apart, while eight
// clients send requests to shop.localhost and other.localhost through
// base: no request may fail, and every answer must come from a backend.
func underLoad(t *testing.T, base, what string, change func(rev int) error) {
	t.Helper()
	var stop atomic.Bool
	var reqs, fails atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			host := "shop.localhost"
			if c%2 == 1 {
				host = "other.localhost"
			}
			for !stop.Load() {
				req, _ := http.NewRequest(http.MethodGet, base+"/x", nil)
				req.Host = host
				res, err := testClient.Do(req)
				reqs.Add(1)
				if err != nil {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				var buf [64]byte
				n, _ := res.Body.Read(buf[:])
				res.Body.Close()
				if res.StatusCode != 200 || !strings.HasPrefix(string(buf[:n]), "b") {
					fails.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%d %q", res.StatusCode, buf[:n]))
				}
			}
		}()
	}
	for rev := 2; rev <= 101; rev++ {
		if err := change(rev); err != nil {
			stop.Store(true)
			wg.Wait()
			t.Fatalf("revision %d: %v", rev, err)
		}
		time.Sleep(3 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	if fails.Load() > 0 {
		t.Fatalf("%d of %d requests failed during %s; first: %v", fails.Load(), reqs.Load(), what, firstErr.Load())
	}
	if reqs.Load() < 100 {
		t.Fatalf("only %d requests during the %s", reqs.Load(), what)
	}
	t.Logf("%d requests over 100 %s, none failed", reqs.Load(), what)
}

// TestStateSurvivesReload: policy middleware is built once per policy and
// kept across reloads that change only tracks; its context ends when it is
// replaced or its route goes.
func TestStateSurvivesReload(t *testing.T) {
	t.Parallel()
	var built atomic.Int32
	var mu sync.Mutex
	var ctxs []context.Context
	g := newTestGateway(t, Options{Middlewares: func(ctx context.Context, r Route, next http.Handler) (http.Handler, error) {
		built.Add(1)
		mu.Lock()
		ctxs = append(ctxs, ctx)
		mu.Unlock()
		var n atomic.Int64 // state that must survive reloads
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("X-Count", fmt.Sprint(n.Add(1)))
			next.ServeHTTP(w, req)
		}), nil
	}})
	base := front(t, g)
	a, b := backend(t, "a", nil), backend(t, "b", nil)
	r := simpleRoute("app/0", "shop.localhost", "/", a)
	r.Policy.RateLimit = &RateLimitPolicy{Rate: 10, Burst: 10}
	mustLoad(t, g, r)
	count := func() string { return do(t, "GET", base, "shop.localhost", "/", nil, nil).header.Get("X-Count") }
	if c := count(); c != "1" {
		t.Fatalf("count %s, want 1", c)
	}
	r.Tracks[0].Endpoints = []Endpoint{{Addr: b}}
	r.Tracks[0].Release = 2
	mustLoad(t, g, r)
	if c := count(); c != "2" || built.Load() != 1 {
		t.Fatalf("after an endpoint change: count %s, built %d; want 2, 1", c, built.Load())
	}
	r.Policy.RateLimit = &RateLimitPolicy{Rate: 20, Burst: 10}
	mustLoad(t, g, r)
	if c := count(); c != "1" || built.Load() != 2 {
		t.Fatalf("after a policy change: count %s, built %d; want 1, 2", c, built.Load())
	}
	mu.Lock()
	first, second := ctxs[0], ctxs[1]
	mu.Unlock()
	if first.Err() == nil || second.Err() != nil {
		t.Fatalf("replaced middleware's context: %v, current one: %v", first.Err(), second.Err())
	}
	mustLoad(t, g) // the route goes
	if second.Err() == nil {
		t.Fatal("a removed route's middleware context is still alive")
	}
}
