// Package ratelimit is the gateway's per-route rate limit: a token bucket
// per client key, refilled lazily from timestamps (no timer per bucket).
//
// The key is the client's IP (default; RemoteAddr, or X-Forwarded-For only
// behind proxies listed with WithTrustedProxies), a request header such as
// an API key ("header:<Name>"), or the subject the auth middleware
// verified ("jwt_sub"; auth must run before the rate limit). A request
// without the header, or without a verified subject, is limited by its
// client IP instead, in buckets apart from the keyed ones: an anonymous
// client neither escapes the limit nor shares one bucket with every other
// anonymous client, and authentication stays the auth policy's job.
//
// Every answer carries X-RateLimit-Limit (the burst) and
// X-RateLimit-Remaining; a refused request gets 429 with Retry-After in
// whole seconds, rounded up. Buckets live in a sharded map bounded by
// WithMaxKeys (a flood of distinct keys evicts the least recently used of
// a sample); buckets idle long enough to be full again are swept in the
// background until ctx ends.
package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/auth"
)

// DefaultMaxKeys bounds the buckets one route keeps.
const DefaultMaxKeys = 100_000

// maxKeyLen: longer header values are keyed by their digest, so that a
// client cannot make each bucket cost kilobytes.
const maxKeyLen = 128

// Metrics is what the handler New returns exposes besides ServeHTTP.
type Metrics interface {
	Buckets() int     // buckets held now
	Rejected() uint64 // requests refused with 429
}

// Option configures the limiter.
type Option func(*options)

type options struct {
	route    string
	log      *slog.Logger
	trusted  []netip.Prefix
	maxKeys  int
	sweepInt time.Duration
	clock    func() time.Time
}

// WithRoute names the route in logs.
func WithRoute(id string) Option { return func(o *options) { o.route = id } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTrustedProxies lists the proxies in front of the gateway whose
// X-Forwarded-For is believed. Without it the header is ignored: anyone
// can send one.
func WithTrustedProxies(p ...netip.Prefix) Option {
	return func(o *options) { o.trusted = append(o.trusted, p...) }
}

// WithMaxKeys bounds the buckets kept (default DefaultMaxKeys).
func WithMaxKeys(n int) Option { return func(o *options) { o.maxKeys = n } }

// WithSweepInterval sets how often idle buckets are dropped (default: the
// time a bucket takes to refill, between 1s and 1m).
func WithSweepInterval(d time.Duration) Option { return func(o *options) { o.sweepInt = d } }

// withClock replaces time.Now in tests.
func withClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// Limiter is the handler New returns.
type Limiter struct {
	next     http.Handler
	cfg      settings
	lim      limits
	idle     int64 // nanos for an empty bucket to fill: idle this long, it is full
	trusted  []netip.Prefix
	route    string
	log      *slog.Logger
	clock    func() time.Time
	epoch    time.Time
	ips      *table[netip.Addr]
	keys     *table[string]
	rejected atomic.Uint64

	// Header values made once. Each is a one-element slice with cap 1, so
	// a handler that Adds to the header gets a new array, never ours.
	limitHdr  []string
	remaining []string // remaining[n:n+1:n+1] for n <= burst, if burst is small
}

// New wraps next in a rate limit configured by cfg. A bad cfg gives an
// error naming the field (errors.Is ErrInvalidConfig). The sweep of idle
// buckets runs until ctx ends.
func New(ctx context.Context, next http.Handler, cfg gateway.RateLimitPolicy, opts ...Option) (http.Handler, error) {
	if next == nil {
		return nil, errors.New("ratelimit: next handler is nil")
	}
	s, err := resolve(cfg)
	if err != nil {
		return nil, err
	}
	o := options{maxKeys: DefaultMaxKeys, clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.maxKeys <= 0 {
		o.maxKeys = DefaultMaxKeys
	}
	idle := time.Duration(float64(s.burst) / s.rate * float64(time.Second))
	if o.sweepInt <= 0 {
		o.sweepInt = min(max(idle, time.Second), time.Minute)
	}
	l := &Limiter{
		next:     next,
		cfg:      s,
		lim:      limits{perNano: s.rate / 1e9, burst: float64(s.burst)},
		idle:     int64(idle),
		trusted:  o.trusted,
		route:    o.route,
		log:      o.log,
		clock:    o.clock,
		epoch:    o.clock(),
		ips:      newTable(o.maxKeys, hashAddr),
		limitHdr: []string{strconv.Itoa(s.burst)},
	}
	if s.kind != byIP {
		l.keys = newTable(o.maxKeys, maphash.String)
	}
	if s.burst <= 1024 {
		l.remaining = make([]string, s.burst+1)
		for i := range l.remaining {
			l.remaining[i] = strconv.Itoa(i)
		}
	}
	go l.sweepLoop(ctx, o.sweepInt)
	return l, nil
}

func hashAddr(seed maphash.Seed, a netip.Addr) uint64 {
	b := a.As16()
	return maphash.Bytes(seed, b[:])
}

func (l *Limiter) now() int64 { return int64(l.clock().Sub(l.epoch)) }

// Buckets implements Metrics.
func (l *Limiter) Buckets() int {
	n := l.ips.len()
	if l.keys != nil {
		n += l.keys.len()
	}
	return n
}

// Rejected implements Metrics.
func (l *Limiter) Rejected() uint64 { return l.rejected.Load() }

func (l *Limiter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := l.now()
	var ok bool
	var left float64
	var wait int64
	key := l.key(r)
	if key != "" {
		ok, left, wait = l.keys.take(key, now, l.lim)
	} else {
		ok, left, wait = l.ips.take(clientIP(r, l.trusted), now, l.lim)
	}
	h := w.Header()
	h["X-Ratelimit-Limit"] = l.limitHdr
	h["X-Ratelimit-Remaining"] = l.remainingHdr(int(left))
	if ok {
		l.next.ServeHTTP(w, r)
		return
	}
	l.rejected.Add(1)
	secs := max(1, int64(math.Ceil(float64(wait)/float64(time.Second))))
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusTooManyRequests)
	// The key is not echoed: it may be an API key.
	msg := fmt.Sprintf("rate limit exceeded (%s requests/s, burst %d); retry in %ds",
		strconv.FormatFloat(l.cfg.rate, 'f', -1, 64), l.cfg.burst, secs)
	_ = json.NewEncoder(w).Encode(errorBody{Error: errorDetail{Code: "rate_limited", Message: msg}})
}

// key is the string key of a request, or "" to key it by client IP.
func (l *Limiter) key(r *http.Request) string {
	var k string
	switch l.cfg.kind {
	case byHeader:
		k = r.Header.Get(l.cfg.header)
	case bySubject:
		k = auth.SubjectFrom(r.Context())
	}
	if len(k) > maxKeyLen {
		h := maphash.String(l.keys.seed, k) // seeded per limiter: not steerable
		k = "#" + strconv.FormatUint(h, 36) + ":" + strconv.Itoa(len(k))
	}
	return k
}

func (l *Limiter) remainingHdr(n int) []string {
	if n >= 0 && n < len(l.remaining) {
		return l.remaining[n : n+1 : n+1]
	}
	return []string{strconv.Itoa(max(n, 0))}
}

func (l *Limiter) sweepLoop(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			l.sweep()
		}
	}
}

// sweep drops the buckets that are full again.
func (l *Limiter) sweep() {
	now := l.now()
	n := l.ips.sweep(now, l.idle)
	if l.keys != nil {
		n += l.keys.sweep(now, l.idle)
	}
	if n > 0 {
		l.log.Debug("ratelimit: dropped idle buckets", "route", l.route, "dropped", n)
	}
}

// errorBody has the shape of the API's error body (pkg/api.ErrorBody).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
