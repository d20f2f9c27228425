// Package loginlimit throttles password logins per (account, client IP):
// too many failures inside a sliding window lock that pair out for a
// while, and each further lockout lasts twice as long as the one before.
//
// Keying on the pair rather than the account alone means an attacker
// cannot lock a victim out of their own account from elsewhere; keying on
// the IP alone would lock out a whole office behind one NAT. Guessing one
// account from many addresses is slowed by the per-pair limit times the
// addresses an attacker holds, so IPv6 clients are keyed by their /64
// (one subscriber's usual allocation), not by the single address.
//
// The rules live in Policy, which works on one pair's Record; where the
// records are kept is the caller's choice. Limiter keeps them in memory
// (one process); the API server keeps them in its store, so that several
// servers behind a balancer share one count per pair rather than each
// granting the full allowance.
package loginlimit

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrInvalid means a Config field is out of range.
var ErrInvalid = errors.New("invalid")

// Config sets the limits. The zero value of a field takes its default.
type Config struct {
	// MaxFailures within Window start a lockout (default 5).
	MaxFailures int
	// Window is the sliding window failures are counted in (default 15m).
	Window time.Duration
	// BaseLockout is the first lockout's length (default 1m); each next
	// one doubles, up to MaxLockout (default 1h).
	BaseLockout time.Duration
	MaxLockout  time.Duration
	// ResetAfter without any failure forgets a pair's lockout history
	// (default 24h).
	ResetAfter time.Duration
	// MaxEntries bounds memory (default 100,000 pairs).
	MaxEntries int
}

func (c Config) withDefaults() (Config, error) {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxFailures == 0 {
		c.MaxFailures = 5
	}
	if c.MaxEntries == 0 {
		c.MaxEntries = 100_000
	}
	def(&c.Window, 15*time.Minute)
	def(&c.BaseLockout, time.Minute)
	def(&c.MaxLockout, time.Hour)
	def(&c.ResetAfter, 24*time.Hour)
	switch {
	case c.MaxFailures < 1:
		return c, fmt.Errorf("max_failures: %w: must be at least 1, got %d", ErrInvalid, c.MaxFailures)
	case c.MaxEntries < 1:
		return c, fmt.Errorf("max_entries: %w: must be at least 1, got %d", ErrInvalid, c.MaxEntries)
	case c.Window < 0:
		return c, fmt.Errorf("window: %w: must be positive, got %v", ErrInvalid, c.Window)
	case c.BaseLockout < 0:
		return c, fmt.Errorf("base_lockout: %w: must be positive, got %v", ErrInvalid, c.BaseLockout)
	case c.MaxLockout < c.BaseLockout:
		return c, fmt.Errorf("max_lockout: %w: must be at least base_lockout (%v), got %v", ErrInvalid, c.BaseLockout, c.MaxLockout)
	case c.ResetAfter < c.MaxLockout:
		return c, fmt.Errorf("reset_after: %w: must be at least max_lockout (%v), got %v", ErrInvalid, c.MaxLockout, c.ResetAfter)
	}
	return c, nil
}

type key struct{ account, ip string }

// Record is what is remembered of one (account, client) pair.
type Record struct {
	Failures    []time.Time // inside the window, oldest first
	LockedUntil time.Time
	Lockouts    int // lockouts so far: the next lasts Base * 2^Lockouts
	LastFailure time.Time
}

// Policy applies a Config to records. It holds no state.
type Policy struct{ cfg Config }

// NewPolicy checks cfg; zero fields take their defaults.
func NewPolicy(cfg Config) (Policy, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return Policy{}, err
	}
	return Policy{cfg: c}, nil
}

// Wait reports whether a login of the pair with record r may be tried at
// now; when it may not, how long until it may: the Retry-After.
func (p Policy) Wait(r Record, now time.Time) (time.Duration, bool) {
	if !now.Before(r.LockedUntil) {
		return 0, true
	}
	return r.LockedUntil.Sub(now), false
}

// Fail is r after a failed login at now, and the lockout that failure
// starts (the Retry-After to send with this very answer), or 0. r is not
// changed.
func (p Policy) Fail(r Record, now time.Time) (Record, time.Duration) {
	if now.Before(r.LockedUntil) {
		// A failure reported during a lockout (a caller that skipped
		// Check) extends nothing: the lockout already stands.
		return r, r.LockedUntil.Sub(now)
	}
	if !r.LastFailure.IsZero() && now.Sub(r.LastFailure) >= p.cfg.ResetAfter {
		r.Lockouts = 0
	}
	r.LastFailure = now
	r.Failures = append(dropBefore(slices.Clone(r.Failures), now.Add(-p.cfg.Window)), now)
	if len(r.Failures) < p.cfg.MaxFailures {
		return r, 0
	}
	d := p.lockoutLength(r.Lockouts)
	r.Lockouts++
	r.LockedUntil = now.Add(d)
	r.Failures = nil
	return r, d
}

// Idle reports whether r has nothing left to remember at now: not locked,
// and its history expired. IdleBefore is the last-failure time before
// which an unlocked record is idle.
func (p Policy) Idle(r Record, now time.Time) bool {
	return !now.Before(r.LockedUntil) && !r.LastFailure.After(p.IdleBefore(now))
}

// IdleBefore is now less ResetAfter.
func (p Policy) IdleBefore(now time.Time) time.Time { return now.Add(-p.cfg.ResetAfter) }

// Limiter counts failed logins in memory. It is safe for concurrent use.
type Limiter struct {
	p       Policy
	mu      sync.Mutex
	entries map[key]*Record
}

// New makes a limiter; zero fields of cfg take their defaults.
func New(cfg Config) (*Limiter, error) {
	p, err := NewPolicy(cfg)
	if err != nil {
		return nil, err
	}
	return &Limiter{p: p, entries: map[key]*Record{}}, nil
}

// Check reports whether a login for account from ip may be tried at now.
// When it may not, it returns how long until it may: the Retry-After.
// Call it before verifying the password, so a locked-out pair costs no
// hashing.
func (l *Limiter) Check(account, ip string, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[newKey(account, ip)]
	if !ok {
		return 0, true
	}
	return l.p.Wait(*e, now)
}

// Fail records a failed login at now. When it starts a lockout it returns
// the lockout's length (the Retry-After to send with this very answer);
// otherwise 0.
func (l *Limiter) Fail(account, ip string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := newKey(account, ip)
	e, ok := l.entries[k]
	if !ok {
		if len(l.entries) >= l.p.cfg.MaxEntries && !l.makeRoom(now) {
			// Every tracked pair is locked out right now: refusing to
			// track a new pair is better than freeing a locked one.
			return 0
		}
		e = &Record{}
		l.entries[k] = e
	}
	next, d := l.p.Fail(*e, now)
	*e = next
	return d
}

// Succeed forgets the pair's failures and lockout history: the person at
// that address knows the password.
func (l *Limiter) Succeed(account, ip string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, newKey(account, ip))
}

// Prune drops pairs with nothing left to remember at now and returns how
// many it dropped. The owner calls it periodically (every few minutes).
func (l *Limiter) Prune(now time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for k, e := range l.entries {
		if l.idle(e, now) {
			delete(l.entries, k)
			n++
		}
	}
	return n
}

// Len is the number of pairs tracked.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// idle: not locked, no failure in the window, and history expired.
func (l *Limiter) idle(e *Record, now time.Time) bool { return l.p.Idle(*e, now) }

// makeRoom frees one entry when the map is full: an idle one if any, else
// the unlocked one whose last failure is oldest. It reports false when
// every entry is locked out.
func (l *Limiter) makeRoom(now time.Time) bool {
	var oldest key
	var oldestAt time.Time
	found := false
	for k, e := range l.entries {
		if l.idle(e, now) {
			delete(l.entries, k)
			return true
		}
		if now.Before(e.LockedUntil) {
			continue
		}
		if !found || e.LastFailure.Before(oldestAt) {
			oldest, oldestAt, found = k, e.LastFailure, true
		}
	}
	if found {
		delete(l.entries, oldest)
	}
	return found
}

func (p Policy) lockoutLength(previous int) time.Duration {
	if previous >= 62 {
		return p.cfg.MaxLockout
	}
	d := float64(p.cfg.BaseLockout) * math.Pow(2, float64(previous))
	if d >= float64(p.cfg.MaxLockout) {
		return p.cfg.MaxLockout
	}
	return time.Duration(d)
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(cutoff) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}

// newKey normalises the pair: accounts compare case-insensitively (as
// logins do), IPs lose their port and IPv6 addresses keep their /64.
func newKey(account, ip string) key {
	a, c := Pair(account, ip)
	return key{account: a, ip: c}
}

// Pair is the form a pair is counted under: the account trimmed and in
// lower case, the address as ClientKey.
func Pair(account, ip string) (string, string) {
	return strings.ToLower(strings.TrimSpace(account)), ClientKey(ip)
}

// ClientKey is the form an address is counted under: the address without
// a port, IPv4-mapped IPv6 as IPv4, other IPv6 as its /64 prefix. Text
// that is no address is used as given.
func ClientKey(addr string) string {
	host := addr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		host = h
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return addr
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return a.String()
	}
	return p.String()
}

// RetryAfter formats d as an HTTP Retry-After value: whole seconds,
// rounded up, at least 1.
func RetryAfter(d time.Duration) string {
	s := int64(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return fmt.Sprint(s)
}
