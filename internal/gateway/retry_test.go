package gateway

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// counted starts an instance that counts its requests and answers with
// code and "name body-it-read".
func counted(t *testing.T, name string, code int, delay time.Duration) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	addr := backend(t, name, func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		b, _ := io.ReadAll(r.Body)
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, name+" "+string(b))
	})
	return addr, &n
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func retryRoute(id string, p *RetryPolicy, addrs ...string) Route {
	r := simpleRoute(id, id+".localhost", "/", addrs...)
	r.Policy.Retry = p
	return r
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc     string
		policy   *RetryPolicy
		bad      int // status of the failing instance; 0: nothing listens
		badDelay time.Duration
		timeout  time.Duration
		method   string
		body     string
		chunked  bool
		want     int
		wantBody string
	}{
		{desc: "GET retried on 503", policy: &RetryPolicy{Attempts: 2}, bad: 503, method: "GET", want: 200},
		{desc: "GET retried on 502", policy: &RetryPolicy{Attempts: 2}, bad: 502, method: "GET", want: 200},
		{desc: "500 not retried", policy: &RetryPolicy{Attempts: 2}, bad: 500, method: "GET", want: 500},
		{desc: "POST not retried", policy: &RetryPolicy{Attempts: 2}, bad: 503, method: "POST", body: "order", want: 503},
		{desc: "POST declared safe is retried with its body", policy: &RetryPolicy{Attempts: 2, SafeMethods: []string{"post"}},
			bad: 503, method: "POST", body: "order", want: 200, wantBody: "good order"},
		{desc: "PUT with a small body is retried", policy: &RetryPolicy{Attempts: 2}, bad: 503, method: "PUT", body: "doc", want: 200, wantBody: "good doc"},
		{desc: "streamed body is never retried", policy: &RetryPolicy{Attempts: 2}, bad: 503, method: "PUT", body: "doc", chunked: true, want: 503},
		{desc: "no policy, no retry", bad: 503, method: "GET", want: 503},
		{desc: "connect error goes elsewhere, even POST", bad: 0, method: "POST", body: "x", want: 200, wantBody: "good x"},
		{desc: "per-try timeout", policy: &RetryPolicy{Attempts: 2, PerTryTimeout: 100 * time.Millisecond},
			bad: 200, badDelay: 2 * time.Second, method: "GET", want: 200, wantBody: "good "},
		{desc: "route timeout", bad: 200, badDelay: 2 * time.Second, timeout: 150 * time.Millisecond, method: "GET", want: 504},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			// Outlier ejection would hide the failing instance; keep it in.
			g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 1000}})
			base := front(t, g)
			good, goodHits := counted(t, "good", 200, 0)
			bad := closedAddr(t)
			var badHits *atomic.Int64
			if tt.bad != 0 {
				bad, badHits = counted(t, "bad", tt.bad, tt.badDelay)
			}
			r := retryRoute("r"+string(rune('a'+i)), tt.policy, bad, good)
			r.Policy.Timeout = tt.timeout
			mustLoad(t, g, r)
			// Round robin alternates, so of two requests one starts on
			// the failing instance.
			for range 2 {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
					if tt.chunked {
						body = io.MultiReader(body) // unknown length: sent chunked
					}
				}
				res := do(t, tt.method, base, r.Host, "/", nil, body)
				if strings.HasPrefix(res.body, "good") {
					if res.code != 200 || (tt.wantBody != "" && res.body != tt.wantBody) {
						t.Fatalf("good instance answered %d %q, want body %q", res.code, res.body, tt.wantBody)
					}
					continue
				}
				if res.code != tt.want {
					t.Fatalf("%s answered %d %q, want %d", tt.method, res.code, res.body, tt.want)
				}
			}
			if goodHits.Load() == 0 {
				t.Fatal("the good instance got nothing")
			}
			if badHits != nil && badHits.Load() == 0 {
				t.Fatal("the failing instance got nothing: the test proves nothing")
			}
		})
	}
}

// TestRetryBudget: with every instance failing, retries stay within the
// budget (0.2 × requests, plus the small floor), however many attempts
// the policy allows.
func TestRetryBudget(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 1000}})
	base := front(t, g)
	a, aHits := counted(t, "a", 503, 0)
	b, bHits := counted(t, "b", 503, 0)
	mustLoad(t, g, retryRoute("budget", &RetryPolicy{Attempts: 5, Budget: 0.2}, a, b))
	const requests = 100
	for range requests {
		if res := do(t, "GET", base, "budget.localhost", "/", nil, nil); res.code != 503 {
			t.Fatalf("got %d", res.code)
		}
	}
	retries := aHits.Load() + bHits.Load() - requests
	if limit := int64(0.2*requests) + minRetries; retries > limit || retries < minRetries {
		t.Fatalf("%d retries for %d requests, want between %d and %d", retries, requests, minRetries, limit)
	}
	t.Logf("%d retries for %d failing requests (4 allowed each by attempts)", retries, requests)
}

// TestRetryOnReset: an instance that drops the connection without
// answering is retried for idempotent requests.
func TestRetryOnReset(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{Outlier: OutlierOptions{ConsecutiveFailures: 1000}})
	base := front(t, g)
	var drops atomic.Int64
	dropper := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		drops.Add(1)
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close()
		}
	})
	good := backend(t, "good", nil)
	mustLoad(t, g, retryRoute("reset", &RetryPolicy{Attempts: 3}, dropper, good),
		retryRoute("noretry", nil, dropper, good))
	for range 4 {
		if res := do(t, "GET", base, "reset.localhost", "/", nil, nil); res.code != 200 {
			t.Fatalf("GET with retries: %d %q", res.code, res.body)
		}
	}
	if drops.Load() == 0 {
		t.Fatal("the dropping instance got nothing")
	}
	codes := map[int]int{}
	for range 4 {
		codes[do(t, "GET", base, "noretry.localhost", "/", nil, nil).code]++
	}
	if codes[502] == 0 || codes[200] == 0 {
		t.Fatalf("without retries: %v, want some 502 and some 200", codes)
	}
}
