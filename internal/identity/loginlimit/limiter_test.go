package loginlimit

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func newLimiter(t *testing.T, cfg Config) *Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLockoutAfterMaxFailures(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 3, Window: time.Minute, BaseLockout: 10 * time.Second, MaxLockout: 80 * time.Second})
	now := t0
	for i := 0; i < 2; i++ {
		if d, ok := l.Check("alice", "10.0.0.1:5000", now); !ok {
			t.Fatalf("attempt %d refused for %v", i, d)
		}
		if d := l.Fail("alice", "10.0.0.1:5000", now); d != 0 {
			t.Fatalf("failure %d locked out for %v", i, d)
		}
		now = now.Add(time.Second)
	}
	if d := l.Fail("alice", "10.0.0.1:5001", now); d != 10*time.Second {
		t.Fatalf("third failure: lockout %v, want 10s", d)
	}
	if d, ok := l.Check("alice", "10.0.0.1", now.Add(4*time.Second)); ok || d != 6*time.Second {
		t.Fatalf("during lockout: Check = %v, %v; want refused, 6s", d, ok)
	}
	// The pair only: the same account from elsewhere, and another account
	// from here, go on.
	if _, ok := l.Check("alice", "10.0.0.2", now); !ok {
		t.Fatal("other IP locked out too")
	}
	if _, ok := l.Check("bob", "10.0.0.1", now); !ok {
		t.Fatal("other account locked out too")
	}
	// Case and port do not make a new pair.
	if _, ok := l.Check(" ALICE ", "10.0.0.1:9", now); ok {
		t.Fatal("ALICE with another port escaped the lockout")
	}
	now = now.Add(10 * time.Second)
	if _, ok := l.Check("alice", "10.0.0.1", now); !ok {
		t.Fatal("still refused after the lockout ended")
	}
}

func TestExponentialLockout(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 2, Window: time.Minute, BaseLockout: 10 * time.Second, MaxLockout: 50 * time.Second, ResetAfter: time.Hour})
	now := t0
	var got []time.Duration
	for round := 0; round < 5; round++ {
		l.Fail("alice", "192.0.2.1", now)
		d := l.Fail("alice", "192.0.2.1", now.Add(time.Second))
		got = append(got, d)
		now = now.Add(time.Second + d)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 50 * time.Second, 50 * time.Second}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("lockouts %v, want %v", got, want)
	}
	// A success forgets the history.
	l.Succeed("alice", "192.0.2.1", now)
	l.Fail("alice", "192.0.2.1", now)
	if d := l.Fail("alice", "192.0.2.1", now); d != 10*time.Second {
		t.Fatalf("after success: lockout %v, want the base 10s", d)
	}
	// So does a quiet ResetAfter.
	now = now.Add(time.Hour + 10*time.Second)
	l.Fail("alice", "192.0.2.1", now)
	if d := l.Fail("alice", "192.0.2.1", now); d != 10*time.Second {
		t.Fatalf("after a quiet hour: lockout %v, want the base 10s", d)
	}
}

func TestSlidingWindow(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 3, Window: time.Minute})
	// Failures spaced wider than the window never add up to three.
	now := t0
	for i := 0; i < 10; i++ {
		if d := l.Fail("alice", "10.0.0.1", now); d != 0 {
			t.Fatalf("failure %d at %v locked out", i, now.Sub(t0))
		}
		now = now.Add(31 * time.Second)
	}
	// Three inside one minute do.
	l2 := newLimiter(t, Config{MaxFailures: 3, Window: time.Minute})
	l2.Fail("alice", "10.0.0.1", t0)
	l2.Fail("alice", "10.0.0.1", t0.Add(50*time.Second))
	if d := l2.Fail("alice", "10.0.0.1", t0.Add(59*time.Second)); d == 0 {
		t.Fatal("three failures within a minute did not lock out")
	}
}

func TestFailDuringLockout(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 1, BaseLockout: time.Minute})
	if d := l.Fail("a", "10.0.0.1", t0); d != time.Minute {
		t.Fatalf("lockout %v", d)
	}
	// Reporting failures during the lockout neither lengthens it nor
	// counts toward the next.
	if d := l.Fail("a", "10.0.0.1", t0.Add(20*time.Second)); d != 40*time.Second {
		t.Fatalf("Fail during lockout = %v, want the 40s left", d)
	}
	if d := l.Fail("a", "10.0.0.1", t0.Add(time.Minute)); d != 2*time.Minute {
		t.Fatalf("next lockout %v, want 2m", d)
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"10.0.0.1", "10.0.0.1"},
		{"10.0.0.1:443", "10.0.0.1"},
		{"[::ffff:10.0.0.1]:443", "10.0.0.1"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:80", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an ip", "not an ip"},
	}
	for _, tt := range tests {
		if got := ClientKey(tt.in); got != tt.want {
			t.Errorf("ClientKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// One IPv6 subscriber rotating addresses in its /64 stays one client.
	l := newLimiter(t, Config{MaxFailures: 2})
	l.Fail("a", "[2001:db8::1]:1", t0)
	if d := l.Fail("a", "[2001:db8::ffff]:2", t0); d == 0 {
		t.Fatal("two addresses of one /64 were counted apart")
	}
}

func TestBoundedMemory(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 2, MaxEntries: 3, BaseLockout: time.Minute, MaxLockout: time.Minute, ResetAfter: time.Hour})
	// One locked pair, then a flood of single failures from new pairs.
	l.Fail("victim-guess", "10.0.0.9", t0)
	l.Fail("victim-guess", "10.0.0.9", t0)
	for i := 0; i < 50; i++ {
		l.Fail(fmt.Sprintf("u%d", i), "10.0.0.1", t0.Add(time.Duration(i)*time.Millisecond))
	}
	if n := l.Len(); n > 3 {
		t.Fatalf("%d entries, cap 3", n)
	}
	if _, ok := l.Check("victim-guess", "10.0.0.9", t0.Add(time.Second)); ok {
		t.Fatal("a flood of new pairs evicted a locked-out pair")
	}
	if n := l.Prune(t0.Add(2 * time.Hour)); n != 3 || l.Len() != 0 {
		t.Fatalf("Prune dropped %d, %d left; want all 3", n, l.Len())
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		cfg   Config
		field string
	}{
		{Config{MaxFailures: -1}, "max_failures"},
		{Config{Window: -time.Second}, "window"},
		{Config{BaseLockout: time.Hour, MaxLockout: time.Minute}, "max_lockout"},
		{Config{MaxLockout: 48 * time.Hour}, "reset_after"},
		{Config{MaxEntries: -5}, "max_entries"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("New(%+v) = %v, want ErrInvalid naming %s", tt.cfg, err, tt.field)
		}
	}
}

// TestOverHTTP drives the limiter the way the login handler will: a real
// HTTP server on loopback answering 429 with Retry-After.
func TestOverHTTP(t *testing.T) {
	t.Parallel()
	l := newLimiter(t, Config{MaxFailures: 3, BaseLockout: 30 * time.Second})
	// The handler runs on the server's goroutines: the clock is shared.
	var clockNanos atomic.Int64
	clockNanos.Store(t0.UnixNano())
	now := func() time.Time { return time.Unix(0, clockNanos.Load()).UTC() }
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass := r.FormValue("user"), r.FormValue("password")
		if d, ok := l.Check(user, r.RemoteAddr, now()); !ok {
			w.Header().Set("Retry-After", RetryAfter(d))
			http.Error(w, "too many failed logins", http.StatusTooManyRequests)
			return
		}
		if pass != "correct horse battery" {
			if d := l.Fail(user, r.RemoteAddr, now()); d > 0 {
				w.Header().Set("Retry-After", RetryAfter(d))
				http.Error(w, "too many failed logins", http.StatusTooManyRequests)
				return
			}
			http.Error(w, "wrong user or password", http.StatusUnauthorized)
			return
		}
		l.Succeed(user, r.RemoteAddr, now())
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	try := func(pass string) (int, string) {
		t.Helper()
		resp, err := srv.Client().PostForm(srv.URL, map[string][]string{"user": {"alice"}, "password": {pass}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Retry-After")
	}
	for i, want := range []int{401, 401, 429, 429} {
		code, ra := try("wrong")
		if code != want {
			t.Fatalf("attempt %d: %d, want %d", i, code, want)
		}
		if code == 429 && ra != "30" {
			t.Fatalf("attempt %d: Retry-After %q, want 30", i, ra)
		}
	}
	// Even the right password waits out the lockout.
	if code, _ := try("correct horse battery"); code != 429 {
		t.Fatalf("right password during lockout: %d, want 429", code)
	}
	clockNanos.Add(int64(31 * time.Second))
	if code, _ := try("correct horse battery"); code != 204 {
		t.Fatalf("right password after lockout: %d, want 204", code)
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{0: "1", 100 * time.Millisecond: "1", time.Second: "1", 1500 * time.Millisecond: "2", time.Hour: "3600"} {
		if got := RetryAfter(d); got != want {
			t.Errorf("RetryAfter(%v) = %q, want %q", d, got, want)
		}
	}
}
