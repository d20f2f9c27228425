package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadStat(t *testing.T) {
	t.Parallel()
	st, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid = %d, want %d", st.ppid, os.Getppid())
	}
	if _, err := readStat(-1); err == nil {
		t.Error("readStat(-1) succeeded")
	}
	if n := threads(os.Getpid()); n < 1 {
		t.Errorf("threads = %d", n)
	}
}

func TestMedian(t *testing.T) {
	t.Parallel()
	id := func(x float64) float64 { return x }
	tests := []struct {
		desc string
		in   []float64
		want float64
	}{
		{desc: "odd", in: []float64{3, 1, 2}, want: 2},
		{desc: "even", in: []float64{4, 1, 2, 3}, want: 2.5},
		{desc: "NaN skipped", in: []float64{math.NaN(), 5, 7}, want: 6},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := median(tc.in, id); got != tc.want {
				t.Errorf("median(%v) = %g, want %g", tc.in, got, tc.want)
			}
		})
	}
	if got := median([]float64{math.NaN()}, id); !math.IsNaN(got) {
		t.Errorf("median of no values = %g, want NaN", got)
	}
}

// TestWrkScripts runs the real wrk with both Lua scripts, so that a script
// error (they are Go format strings) fails here and not ten minutes into a
// benchmark run.
func TestWrkScripts(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("wrk"); err != nil {
		t.Skip("wrk is not installed (apt-get install wrk)")
	}
	const routes = 50
	var mu sync.Mutex
	hosts := map[string]int{}
	// Each phase gets its own server: a request wrk sent just before it
	// exited can still be in a handler when the next phase starts.
	counter := func(into map[string]int) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			into[r.Host]++
			mu.Unlock()
		}))
	}
	srv := counter(hosts)
	defer srv.Close()
	rotated := map[string]int{}
	srv2 := counter(rotated)
	defer srv2.Close()
	plain, rotate, err := writeLua(t.TempDir(), routes, "routes.localhost")
	if err != nil {
		t.Fatal(err)
	}
	o := wrkOpts{threads: 2, conns: 4, duration: time.Second}

	r, err := runWrk(context.Background(), o, srv.URL+"/", "bench.localhost", plain)
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests < 100 || r.errors() != 0 || r.P50 <= 0 || r.P99 < r.P50 || r.rps() <= 0 {
		t.Errorf("plain: %+v", r)
	}
	mu.Lock()
	if len(hosts) != 1 || hosts["bench.localhost"] == 0 {
		t.Errorf("plain: hosts seen %v, want only bench.localhost", hosts)
	}
	mu.Unlock()

	hosts = rotated
	if _, err := runWrk(context.Background(), o, srv2.URL+"/", "", rotate); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range routes {
		if h := fmt.Sprintf("h%05d.routes.localhost", i); hosts[h] == 0 {
			t.Errorf("rotate: no request for %s; seen %d hosts", h, len(hosts))
		}
	}
	for h := range hosts {
		if !strings.HasSuffix(h, ".routes.localhost") {
			t.Errorf("rotate: unexpected host %q", h)
		}
	}
}
