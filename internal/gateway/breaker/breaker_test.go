package breaker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// fakeClock is a clock tests move by hand; backends "take time" by moving it.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// backend answers with the status in ?status= (default 200) after moving
// the clock by ?took=, and counts the requests that reached it.
type backend struct {
	clock *fakeClock
	mu    sync.Mutex
	hits  int
}

func (be *backend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	be.mu.Lock()
	be.hits++
	be.mu.Unlock()
	if d, err := time.ParseDuration(r.URL.Query().Get("took")); err == nil {
		be.clock.Advance(d)
	}
	status := http.StatusOK
	if s := r.URL.Query().Get("status"); s != "" {
		status, _ = strconv.Atoi(s)
	}
	w.WriteHeader(status)
	_, _ = w.Write([]byte("hello"))
}

func (be *backend) Hits() int {
	be.mu.Lock()
	defer be.mu.Unlock()
	return be.hits
}

func newTestBreaker(t *testing.T, cfg gateway.BreakerPolicy, opts ...Option) (*Breaker, *backend, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	be := &backend{clock: clk}
	h, err := New(t.Context(), be, cfg, append([]Option{withClock(clk.Now), WithRoute("shop/0")}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h.(*Breaker), be, clk
}

func do(h http.Handler, status int, took time.Duration) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	url := "/?status=" + strconv.Itoa(status)
	if took > 0 {
		url += "&took=" + took.String()
	}
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, url, nil))
	return rec
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		cfg  gateway.BreakerPolicy
		want string
	}{
		{"ratio above one", gateway.BreakerPolicy{ErrorRatio: 1.5}, "breaker.error_ratio: 1.5 is not a ratio (0-1)"},
		{"negative ratio", gateway.BreakerPolicy{ErrorRatio: -0.1}, "breaker.error_ratio: -0.1 is not a ratio (0-1)"},
		{"negative window", gateway.BreakerPolicy{Window: -time.Second}, "breaker.window: -1s must be positive"},
		{"tiny window", gateway.BreakerPolicy{Window: time.Millisecond}, "breaker.window: 1ms is too short"},
		{"negative min requests", gateway.BreakerPolicy{MinRequests: -1}, "breaker.min_requests: -1"},
		{"negative consecutive", gateway.BreakerPolicy{ConsecutiveFailures: -3}, "breaker.consecutive_failures: -3"},
		{"quantile above one", gateway.BreakerPolicy{LatencyQuantile: 99, LatencyThreshold: time.Second}, "breaker.latency_quantile: 99 is not a quantile (0-1)"},
		{"quantile without threshold", gateway.BreakerPolicy{LatencyQuantile: 0.9}, "breaker.latency_quantile: is set but latency_threshold is not"},
		{"negative threshold", gateway.BreakerPolicy{LatencyThreshold: -time.Second}, "breaker.latency_threshold: -1s must be positive"},
		{"negative open for", gateway.BreakerPolicy{OpenFor: -time.Second}, "breaker.open_for: -1s must be positive"},
		{"negative probes", gateway.BreakerPolicy{HalfOpenRequests: -1}, "breaker.half_open_requests: -1"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := New(t.Context(), http.NotFoundHandler(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("err = %v is not ErrInvalidConfig", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := resolve(gateway.BreakerPolicy{}, DefaultMaxOpenFor)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{
		window: DefaultWindow, minRequests: DefaultMinRequests, errorRatio: DefaultErrorRatio,
		openFor: DefaultOpenFor, maxOpenFor: DefaultMaxOpenFor, halfOpen: DefaultHalfOpenRequests,
	}
	if s != want {
		t.Errorf("defaults = %+v, want %+v", s, want)
	}
	s, _ = resolve(gateway.BreakerPolicy{ConsecutiveFailures: 3, LatencyThreshold: time.Second}, DefaultMaxOpenFor)
	if s.errorRatio != 0 || s.quantile != DefaultLatencyQuantile {
		t.Errorf("explicit triggers: ratio %g quantile %g, want 0 and %g", s.errorRatio, s.quantile, DefaultLatencyQuantile)
	}
}

// step is one request in a scenario: its backend status and duration, and
// the status the client must see.
type step struct {
	status int
	took   time.Duration
	after  time.Duration // clock moves this much before the request
	n      int           // repeat (default 1)
	want   int
}

func TestTrips(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc      string
		cfg       gateway.BreakerPolicy
		steps     []step
		wantState string
		wantWhy   string // in the 503 body of the last step, if it is one
	}{
		{
			desc: "error ratio opens after min requests",
			cfg:  gateway.BreakerPolicy{ErrorRatio: 0.5, MinRequests: 20},
			steps: []step{
				{status: 500, n: 19, want: 500}, // below MinRequests: counts, no trip
				{status: 200, want: 200},        // 20th: 19/20 >= 0.5, trips after
				{status: 200, want: 503},
			},
			wantState: StateOpen,
			wantWhy:   "circuit open for route shop/0: error ratio 0.95 >= 0.50 (19 of 20 requests failed in the last 10s)",
		},
		{
			desc: "error ratio below threshold stays closed",
			cfg:  gateway.BreakerPolicy{ErrorRatio: 0.5, MinRequests: 10},
			steps: []step{
				{status: 200, n: 6, want: 200},
				{status: 502, n: 5, want: 502}, // 5/11 < 0.5
				{status: 200, n: 10, want: 200},
			},
			wantState: StateClosed,
		},
		{
			desc: "consecutive failures open below min requests",
			cfg:  gateway.BreakerPolicy{ConsecutiveFailures: 3},
			steps: []step{
				{status: 503, n: 2, want: 503},
				{status: 200, want: 200}, // resets the run
				{status: 504, n: 3, want: 504},
				{status: 200, want: 503},
			},
			wantState: StateOpen,
			wantWhy:   "circuit open for route shop/0: 3 consecutive failures",
		},
		{
			desc: "4xx is not a failure",
			cfg:  gateway.BreakerPolicy{ConsecutiveFailures: 2},
			steps: []step{
				{status: 404, n: 5, want: 404},
				{status: 429, n: 5, want: 429},
			},
			wantState: StateClosed,
		},
		{
			desc: "old failures slide out of the window",
			cfg:  gateway.BreakerPolicy{ErrorRatio: 0.5, MinRequests: 10, Window: time.Second},
			steps: []step{
				{status: 500, n: 9, want: 500},
				{after: 1100 * time.Millisecond, status: 200, n: 9, want: 200},
				{status: 500, want: 500}, // 1/10 in the window
			},
			wantState: StateClosed,
		},
		{
			desc: "p90 latency above threshold opens",
			cfg:  gateway.BreakerPolicy{MinRequests: 10, LatencyQuantile: 0.9, LatencyThreshold: 100 * time.Millisecond},
			steps: []step{
				{status: 200, took: 10 * time.Millisecond, n: 18, want: 200},
				{status: 200, took: 300 * time.Millisecond, n: 2, want: 200}, // 2 of 20 slow: p90 is still fast
				{status: 200, took: 300 * time.Millisecond, want: 200},       // 3 of 21 slow: p90 is slow
				{status: 200, want: 503},
			},
			wantState: StateOpen,
			wantWhy:   "p90 latency above 100ms (3 of 21 requests slower in the last 10s)",
		},
		{
			desc: "latency at the threshold is not slow",
			cfg:  gateway.BreakerPolicy{MinRequests: 5, LatencyQuantile: 0.5, LatencyThreshold: 100 * time.Millisecond},
			steps: []step{
				{status: 200, took: 100 * time.Millisecond, n: 10, want: 200},
			},
			wantState: StateClosed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b, _, clk := newTestBreaker(t, tt.cfg)
			var last *httptest.ResponseRecorder
			for i, s := range tt.steps {
				clk.Advance(s.after)
				for j := 0; j < max(s.n, 1); j++ {
					last = do(b, s.status, s.took)
					if last.Code != s.want {
						t.Fatalf("step %d #%d: status %d, want %d (body %q)", i, j, last.Code, s.want, last.Body)
					}
				}
			}
			if got := b.State(); got != tt.wantState {
				t.Errorf("State() = %q, want %q", got, tt.wantState)
			}
			if tt.wantWhy != "" && !strings.Contains(last.Body.String(), tt.wantWhy) {
				t.Errorf("body %q does not say %q", last.Body, tt.wantWhy)
			}
		})
	}
}

func TestOpenAnswersFastWithRetryAfter(t *testing.T) {
	t.Parallel()
	b, be, clk := newTestBreaker(t, gateway.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: 5 * time.Second})
	do(b, 502, 0)
	hits := be.Hits()
	clk.Advance(1500 * time.Millisecond)
	rec := do(b, 200, 0)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", rec.Code)
	}
	if be.Hits() != hits {
		t.Errorf("backend was called while the circuit was open")
	}
	if got := rec.Header().Get("Retry-After"); got != "4" { // 3.5s left, rounded up
		t.Errorf("Retry-After = %q, want 4", got)
	}
	var body errorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body, err)
	}
	if body.Error.Code != "circuit_open" || body.Error.Message != "circuit open for route shop/0: 1 consecutive failures" {
		t.Errorf("body = %+v", body)
	}
	if b.Rejected() != 1 {
		t.Errorf("Rejected() = %d, want 1", b.Rejected())
	}
}

func TestHalfOpen(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var changes []string
	b, _, clk := newTestBreaker(t,
		gateway.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: 2 * time.Second, HalfOpenRequests: 2},
		WithMaxOpenFor(5*time.Second),
		OnStateChange(func(c StateChange) {
			mu.Lock()
			defer mu.Unlock()
			if c.Route != "shop/0" {
				t.Errorf("change for route %q", c.Route)
			}
			changes = append(changes, c.From+">"+c.To)
		}))

	expect := func(status, want int, retryAfter string) {
		t.Helper()
		rec := do(b, status, 0)
		if rec.Code != want {
			t.Fatalf("status %d, want %d", rec.Code, want)
		}
		if retryAfter != "" && rec.Header().Get("Retry-After") != retryAfter {
			t.Fatalf("Retry-After %q, want %q", rec.Header().Get("Retry-After"), retryAfter)
		}
	}
	expect(500, 500, "")  // opens for 2s
	expect(200, 503, "2") //
	clk.Advance(2 * time.Second)
	if b.State() != StateHalfOpen {
		t.Fatalf("State() = %q after OpenFor, want half-open", b.State())
	}
	expect(500, 500, "")  // the probe fails: open again, for 4s
	expect(200, 503, "4") //
	clk.Advance(4 * time.Second)
	expect(500, 500, "")  // fails again: 8s, capped at 5s
	expect(200, 503, "5") //
	clk.Advance(5 * time.Second)
	expect(200, 200, "") // first of two probes succeeds: still half-open
	if b.State() != StateHalfOpen {
		t.Fatalf("State() = %q after one of two probes, want half-open", b.State())
	}
	expect(200, 200, "") // second succeeds: closed, OpenFor back to 2s
	if b.State() != StateClosed {
		t.Fatalf("State() = %q, want closed", b.State())
	}
	expect(500, 500, "")
	expect(200, 503, "2")

	want := "closed>open half-open>open half-open>open half-open>closed closed>open"
	got := strings.Join(changes, " ")
	got = strings.ReplaceAll(got, "open>half-open ", "") // open>half-open happens between
	if got != want {
		t.Errorf("changes %q, want %q", strings.Join(changes, " "), want)
	}
}

// While the probes are out, other requests are still refused.
func TestHalfOpenAdmitsOnlyProbes(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 4)
	clk := newFakeClock()
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("status") == "500" {
			w.WriteHeader(500)
			return
		}
		entered <- struct{}{}
		select { // bounded, so that a broken breaker fails the test, not hangs it
		case <-release:
		case <-time.After(5 * time.Second):
		}
	})
	h, err := New(t.Context(), slow, gateway.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Second}, withClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	do(h, 500, 0)
	clk.Advance(time.Second)
	if s := h.(Metrics).State(); s != StateHalfOpen {
		t.Fatalf("State() = %q, want half-open", s)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if rec := do(h, 200, 0); rec.Code != 200 {
			t.Errorf("probe: status %d", rec.Code)
		}
	})
	<-entered
	if rec := do(h, 200, 0); rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
		t.Errorf("second request while probing: %d Retry-After %q, want 503 and 1", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(release)
	wg.Wait()
	if s := h.(Metrics).State(); s != StateClosed {
		t.Errorf("State() = %q, want closed", s)
	}
}

func TestPanicIsFailureAndFreesProbe(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	panicky := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
	h, err := New(t.Context(), panicky, gateway.BreakerPolicy{ConsecutiveFailures: 2, OpenFor: time.Second}, withClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	serve := func() (p any) {
		defer func() { p = recover() }()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		return nil
	}
	for range 2 {
		if p := serve(); p != http.ErrAbortHandler {
			t.Fatalf("panic %v was not passed on", p)
		}
	}
	m := h.(Metrics)
	if m.State() != StateOpen {
		t.Fatalf("State() = %q after 2 panics, want open", m.State())
	}
	clk.Advance(time.Second)
	if p := serve(); p == nil { // the probe panics: open again, not stuck half-open
		t.Fatal("probe did not panic")
	}
	if m.State() != StateOpen {
		t.Errorf("State() = %q after a panicking probe, want open", m.State())
	}
}

func TestClientCancelIsNotAFailure(t *testing.T) {
	t.Parallel()
	b, _, _ := newTestBreaker(t, gateway.BreakerPolicy{ConsecutiveFailures: 1})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	rec := httptest.NewRecorder()
	b.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?status=502", nil).WithContext(ctx))
	if b.State() != StateClosed {
		t.Errorf("State() = %q after a cancelled request, want closed", b.State())
	}
	deadline, stop := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer stop()
	b.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/?status=504", nil).WithContext(deadline))
	if b.State() != StateOpen {
		t.Errorf("State() = %q after a timed-out request, want open", b.State())
	}
}

func TestRoutesDoNotShareState(t *testing.T) {
	t.Parallel()
	cfg := gateway.BreakerPolicy{ConsecutiveFailures: 2}
	a, _, _ := newTestBreaker(t, cfg, WithRoute("a/0"))
	b, _, _ := newTestBreaker(t, cfg, WithRoute("b/0"))
	do(a, 500, 0)
	do(a, 500, 0)
	do(b, 500, 0)
	if a.State() != StateOpen || b.State() != StateClosed {
		t.Errorf("states a=%q b=%q, want open and closed", a.State(), b.State())
	}
	if rec := do(b, 200, 0); rec.Code != 200 {
		t.Errorf("route b answered %d", rec.Code)
	}
}

// A concurrent load of mixed outcomes; run with -race.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	b, _, clk := newTestBreaker(t, gateway.BreakerPolicy{ErrorRatio: 0.3, MinRequests: 50, OpenFor: time.Millisecond, HalfOpenRequests: 3})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				status := 200
				if (i+g)%3 == 0 {
					status = 500
				}
				do(b, status, 0)
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	_ = b.State()
}
