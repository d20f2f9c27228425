package gateway

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func testTrack(n int) *track {
	t := &track{state: &trackState{}}
	for i := range n {
		t.eps = append(t.eps, &endpoint{addr: fmt.Sprintf("10.0.0.%d:80", i), st: &endpointState{}})
	}
	return t
}

func TestPick(t *testing.T) {
	t.Parallel()
	now := time.Now().UnixNano()
	tests := []struct {
		desc    string
		lb      int
		n       int
		setup   func(tr *track)
		tried   []int
		allowed []int // endpoints a pick may return
	}{
		{desc: "rr skips ejected", lb: lbRoundRobin, n: 3, setup: func(tr *track) { tr.eps[1].st.ejectedUntil.Store(now + 1e9) }, allowed: []int{0, 2}},
		{desc: "rr skips tried", lb: lbRoundRobin, n: 3, tried: []int{0, 2}, allowed: []int{1}},
		{desc: "all tried: an untried ejected one", lb: lbRoundRobin, n: 2, tried: []int{0},
			setup: func(tr *track) { tr.eps[1].st.ejectedUntil.Store(now + 1e9) }, allowed: []int{1}},
		{desc: "everything tried still picks", lb: lbRoundRobin, n: 2, tried: []int{0, 1}, allowed: []int{0, 1}},
		{desc: "least request prefers the idle", lb: lbLeastRequest, n: 2, setup: func(tr *track) { tr.eps[0].st.inflight.Store(5) }, allowed: []int{1}},
		{desc: "least request skips ejected", lb: lbLeastRequest, n: 2,
			setup: func(tr *track) { tr.eps[1].st.ejectedUntil.Store(now + 1e9); tr.eps[0].st.inflight.Store(9) }, allowed: []int{0}},
		{desc: "least request skips tried", lb: lbLeastRequest, n: 3, tried: []int{1, 2}, allowed: []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tr := testTrack(tt.n)
			if tt.setup != nil {
				tt.setup(tr)
			}
			var tried []*endpoint
			for _, i := range tt.tried {
				tried = append(tried, tr.eps[i])
			}
			for range 50 {
				got := tr.pick(tt.lb, now, tried)
				ok := false
				for _, i := range tt.allowed {
					ok = ok || got == tr.eps[i]
				}
				if !ok {
					t.Fatalf("picked %s, want one of %v", got.addr, tt.allowed)
				}
			}
		})
	}
}

func TestLeastRequestSpreadsByLoad(t *testing.T) {
	t.Parallel()
	tr := testTrack(3)
	tr.eps[0].st.inflight.Store(10)
	tr.eps[2].st.inflight.Store(10)
	counts := map[*endpoint]int{}
	for range 3000 {
		counts[tr.pick(lbLeastRequest, 0, nil)]++
	}
	// The idle endpoint wins whenever it is one of the two drawn: 2/3.
	if got := counts[tr.eps[1]]; got < 1800 || got > 2200 {
		t.Fatalf("idle endpoint got %d of 3000, want about 2000", got)
	}
}

func TestRoundRobinOverHTTP(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	var addrs []string
	for i := range 3 {
		addrs = append(addrs, backend(t, fmt.Sprintf("i%d", i), nil))
	}
	mustLoad(t, g, simpleRoute("rr/0", "rr.localhost", "/", addrs...))
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				name, _, _ := strings.Cut(do(t, "GET", base, "rr.localhost", "/", nil, nil).body, " ")
				mu.Lock()
				counts[name]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, n := range []string{"i0", "i1", "i2"} {
		if counts[n] != 20 {
			t.Fatalf("round robin over 60 requests: %v, want 20 each", counts)
		}
	}
}
