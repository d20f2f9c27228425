package gateway

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// ejected counts the endpoints of route id's first track ejected now.
func ejected(g *Gateway, id string) int {
	now := time.Now().UnixNano()
	n := 0
	for _, rt := range g.table.Load().routes {
		if rt.id != id {
			continue
		}
		for _, e := range rt.tracks[0].eps {
			if e.st.ejectedUntil.Load() > now {
				n++
			}
		}
	}
	return n
}

func TestOutlierEjection(t *testing.T) {
	t.Parallel()
	const base = 300 * time.Millisecond
	g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 3, BaseEjection: base}})
	front := front(t, g)
	var addrs []string
	var badHits []*atomic.Int64
	for i := range 3 {
		a, n := counted(t, fmt.Sprintf("bad%d", i), 503, 0)
		addrs, badHits = append(addrs, a), append(badHits, n)
	}
	good, goodHits := counted(t, "good", 200, 0)
	addrs = append(addrs, good)
	r := simpleRoute("out/0", "out.localhost", "/", addrs...)
	mustLoad(t, g, r)

	for range 40 {
		do(t, "GET", front, "out.localhost", "/", nil, nil)
	}
	// Three instances fail, but at most half of four may be out at once.
	if n := ejected(g, "out/0"); n != 2 {
		t.Fatalf("%d endpoints ejected, want 2 (the 50 %% cap)", n)
	}
	// A reload that keeps the route keeps the ejections.
	r.Tracks[0].Release = 2
	mustLoad(t, g, r)
	if n := ejected(g, "out/0"); n != 2 {
		t.Fatalf("%d endpoints ejected after a reload, want 2", n)
	}
	before := goodHits.Load()
	for range 20 {
		do(t, "GET", front, "out.localhost", "/", nil, nil)
	}
	if got := goodHits.Load() - before; got < 9 {
		t.Fatalf("the good instance got %d of 20 requests with two of four ejected, want about 10", got)
	}

	// Ejected endpoints come back after the ejection time.
	time.Sleep(base + 50*time.Millisecond)
	if n := ejected(g, "out/0"); n != 0 {
		t.Fatalf("%d endpoints still ejected after %s", n, base)
	}
	var hitsBefore int64
	for _, h := range badHits {
		hitsBefore += h.Load()
	}
	for range 4 {
		do(t, "GET", front, "out.localhost", "/", nil, nil)
	}
	var hitsAfter int64
	for _, h := range badHits {
		hitsAfter += h.Load()
	}
	if hitsAfter == hitsBefore {
		t.Fatal("returned endpoints got no traffic")
	}
	if got := testCounter(t, g, "berth_gateway_ejections_total", map[string]string{"route": "out/0"}); got < 2 {
		t.Fatalf("ejections metric %v, want >= 2", got)
	}
}

func TestOutlierNeverEjectsTheLastEndpoint(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 2, BaseEjection: time.Minute}})
	front := front(t, g)
	bad, hits := counted(t, "bad", 503, 0)
	mustLoad(t, g, simpleRoute("one/0", "one.localhost", "/", bad))
	for range 10 {
		do(t, "GET", front, "one.localhost", "/", nil, nil)
	}
	if n := ejected(g, "one/0"); n != 0 || hits.Load() != 10 {
		t.Fatalf("single endpoint: %d ejected, %d hits; want 0 ejected and all 10 requests served", n, hits.Load())
	}
}

func TestEjectionTimeGrows(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 1, BaseEjection: time.Second}})
	mustLoad(t, g, simpleRoute("grow/0", "grow.localhost", "/", "127.0.0.1:1", "127.0.0.1:2"))
	rt := g.table.Load().routes[0]
	tr, e := rt.tracks[0], rt.tracks[0].eps[0]
	now := time.Now()
	for i := 1; i <= 3; i++ {
		g.observe(rt, tr, e, true, now)
		got := time.Duration(e.st.ejectedUntil.Load() - now.UnixNano())
		if want := time.Duration(i) * time.Second; got != want {
			t.Fatalf("ejection %d lasts %s, want %s", i, got, want)
		}
		now = now.Add(got) // the ejection ends; the endpoint fails again
	}
	// Healthy for long enough, it starts again from the base time.
	now = now.Add(time.Hour)
	g.observe(rt, tr, e, true, now)
	if got := time.Duration(e.st.ejectedUntil.Load() - now.UnixNano()); got != time.Second {
		t.Fatalf("after a healthy hour the ejection lasts %s, want 1s", got)
	}
}
