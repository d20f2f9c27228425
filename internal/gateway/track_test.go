package gateway

import (
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
)

func canaryRoute(id string, stable, canary string, canaryWeight int) Route {
	r := simpleRoute(id, "shop.localhost", "/", stable)
	r.Tracks[0].Weight = 100 - canaryWeight
	r.Tracks = append(r.Tracks, Track{Name: TrackCanary, Release: 2, Weight: canaryWeight})
	if canary != "" {
		r.Tracks[1].Endpoints = []Endpoint{{Addr: canary}}
	}
	return r
}

// TestCanarySplit sends 10,000 requests through a weighted route and
// expects each track's share within ±2 % of its weight.
func TestCanarySplit(t *testing.T) {
	t.Parallel()
	for _, weight := range []int{10, 33} {
		g := newTestGateway(t, Options{})
		base := front(t, g)
		mustLoad(t, g, canaryRoute("a/0", backend(t, "stable", nil), backend(t, "canary", nil), weight))
		const total = 10000
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for c := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[string]int{}
				for i := c; i < total; i += 8 {
					r := do(t, "GET", base, "shop.localhost", "/", nil, nil)
					name, _, _ := strings.Cut(r.body, " ")
					local[name]++
					if want := map[string]string{"stable": "1", "canary": "2"}[name]; r.header.Get(ReleaseHeader) != want {
						t.Errorf("%s answered with %s %q", name, ReleaseHeader, r.header.Get(ReleaseHeader))
					}
				}
				mu.Lock()
				for k, v := range local {
					counts[k] += v
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		share := float64(counts["canary"]) / total * 100
		if math.Abs(share-float64(weight)) > 2 || counts["stable"]+counts["canary"] != total {
			t.Fatalf("weight %d: canary got %.2f %% (%v)", weight, share, counts)
		}
		t.Logf("weight %d: canary got %.2f %% of %d requests", weight, share, total)
	}
}

func TestSmoothCycleSpreadsRequests(t *testing.T) {
	t.Parallel()
	tracks := []*track{{weight: 90}, {weight: 10}}
	c := smoothCycle(tracks)
	// Every window of 10 consecutive requests holds exactly one canary
	// request: the split holds over short spans, not only over 100.
	for i := 0; i+10 <= 100; i++ {
		n := 0
		for _, x := range c[i : i+10] {
			n += int(x)
		}
		if n != 1 {
			t.Fatalf("requests %d..%d hold %d canary requests: %v", i, i+9, n, c)
		}
	}
}

func TestTrackPinsAndSticky(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	stable, canary := backend(t, "stable", nil), backend(t, "canary", nil)
	pinned := canaryRoute("a/0", stable, canary, 0) // a canary with no traffic yet
	sticky := canaryRoute("a/1", stable, canary, 50)
	sticky.Host, sticky.Sticky = "sticky.localhost", true
	empty := canaryRoute("a/2", stable, "", 50) // canary without ready instances
	empty.Host = "empty.localhost"
	mustLoad(t, g, pinned, sticky, empty)

	tests := []struct {
		desc, host string
		hdr        http.Header
		want       string
	}{
		{desc: "weight 0 gets nothing", host: "shop.localhost", want: "stable"},
		{desc: "header pins canary", host: "shop.localhost", hdr: http.Header{TrackHeader: {"canary"}}, want: "canary"},
		{desc: "cookie pins canary", host: "shop.localhost", hdr: http.Header{"Cookie": {"a=1; berth-track=canary; b=2"}}, want: "canary"},
		{desc: "header beats cookie", host: "shop.localhost", hdr: http.Header{TrackHeader: {"stable"}, "Cookie": {"berth-track=canary"}}, want: "stable"},
		{desc: "unknown track ignored", host: "shop.localhost", hdr: http.Header{TrackHeader: {"blue"}}, want: "stable"},
		{desc: "sticky cookie keeps canary", host: "sticky.localhost", hdr: http.Header{"Cookie": {"berth-sticky=canary"}}, want: "canary"},
		{desc: "sticky cookie keeps stable", host: "sticky.localhost", hdr: http.Header{"Cookie": {"berth-sticky=stable"}}, want: "stable"},
		{desc: "track without instances falls back", host: "empty.localhost", hdr: http.Header{TrackHeader: {"canary"}}, want: "stable"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			for range 4 {
				r := do(t, "GET", base, tt.host, "/", tt.hdr, nil)
				if !strings.HasPrefix(r.body, tt.want+" ") {
					t.Fatalf("answered by %q, want %s", r.body, tt.want)
				}
				if tt.hdr.Get("Cookie") != "" && r.header.Get("Set-Cookie") != "" {
					t.Fatalf("a client that has its track got Set-Cookie %q", r.header.Get("Set-Cookie"))
				}
			}
		})
	}

	t.Run("sticky sets the cookie of the track served", func(t *testing.T) {
		t.Parallel()
		for range 6 {
			r := do(t, "GET", base, "sticky.localhost", "/", nil, nil)
			name, _, _ := strings.Cut(r.body, " ")
			want := "berth-sticky=" + name + "; Path=/; HttpOnly; SameSite=Lax"
			if got := r.header.Get("Set-Cookie"); got != want {
				t.Fatalf("Set-Cookie %q from %s, want %q", got, name, want)
			}
		}
	})
	t.Run("no sticky cookie without Sticky", func(t *testing.T) {
		t.Parallel()
		if c := do(t, "GET", base, "shop.localhost", "/", nil, nil).header.Get("Set-Cookie"); c != "" {
			t.Fatalf("Set-Cookie %q", c)
		}
	})
}
