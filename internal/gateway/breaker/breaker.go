// Package breaker is the gateway's per-route circuit breaker.
//
// A breaker watches the outcomes of one route's requests over a sliding
// window and opens when the backend is failing or slow: when the error
// ratio reaches ErrorRatio, when ConsecutiveFailures requests fail in a
// row, or when the LatencyQuantile of latencies exceeds LatencyThreshold
// (ratios and the quantile count only after MinRequests requests in the
// window). A failure is a 5xx answer from next, which includes the 502, 503
// and 504 a reverse proxy writes for a transport error or a timeout, and a
// panic in next. While open it answers at once with 503, Retry-After and a
// body saying why, so clients fail fast and the backend gets room to
// recover. After OpenFor it lets HalfOpenRequests probes through: their
// success closes the circuit, a failure opens it again for twice as long
// (up to a cap).
//
// One New per route: a breaker's state belongs to the route it was built
// for and is never shared. The hot path (closed state) takes one short
// mutex to record the outcome and does not allocate.
package breaker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// States as State reports them.
const (
	StateClosed   = "closed"
	StateOpen     = "open"
	StateHalfOpen = "half-open"
)

// Metrics is what a breaker's handler exposes besides ServeHTTP, for
// metrics and the console: type-assert the handler New returns.
type Metrics interface {
	// State is "closed", "open" or "half-open". An open breaker whose
	// OpenFor has passed reports "half-open": its next request is a probe.
	State() string
	// Rejected counts requests answered with 503 because the circuit was
	// not closed.
	Rejected() uint64
}

// StateChange is passed to the OnStateChange callback.
type StateChange struct {
	Route    string
	From, To string
	Reason   string
}

// Option configures a breaker.
type Option func(*options)

type options struct {
	route      string
	log        *slog.Logger
	onChange   func(StateChange)
	maxOpenFor time.Duration
	clock      func() time.Time
}

// WithRoute names the route in messages, logs and StateChange.
func WithRoute(id string) Option { return func(o *options) { o.route = id } }

// WithLogger logs state changes.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// OnStateChange calls fn on every change of state, in order. It is called
// with the breaker's lock held so that changes are never reported out of
// order: it must be quick (a log line, a metric) and must not call back
// into the breaker other than State and Rejected.
func OnStateChange(fn func(StateChange)) Option { return func(o *options) { o.onChange = fn } }

// WithMaxOpenFor caps how long OpenFor grows to after failed probes
// (default DefaultMaxOpenFor, or OpenFor if that is longer).
func WithMaxOpenFor(d time.Duration) Option { return func(o *options) { o.maxOpenFor = d } }

// withClock replaces time.Now in tests.
func withClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// internal states, packed with a generation counter into one atomic word
// so that a request reads state and generation consistently.
const (
	closed uint64 = iota
	open
	halfOpen
	stateBits = 2
	stateMask = 1<<stateBits - 1
)

var stateNames = [...]string{closed: StateClosed, open: StateOpen, halfOpen: StateHalfOpen}

type outcome int

const (
	success outcome = iota
	failure
	ignored // the client went away: says nothing about the backend
)

// rejection is what the breaker answers while not closed, prepared once
// when it opens so that rejecting costs no formatting.
type rejection struct {
	body  []byte
	until int64 // clock nanos when OpenFor ends
}

// Breaker is the handler New returns.
type Breaker struct {
	next     http.Handler
	cfg      settings
	route    string
	log      *slog.Logger
	onChange func(StateChange)
	clock    func() time.Time
	epoch    time.Time

	// word is generation<<stateBits | state. Every change of state bumps
	// the generation, so an outcome recorded for a request admitted under
	// an older state is recognised and dropped.
	word     atomic.Uint64
	rej      atomic.Pointer[rejection]
	rejected atomic.Uint64

	mu          sync.Mutex
	win         window
	consecutive int
	openFor     time.Duration // grows after failed probes, reset on close
	probesLeft  int           // half-open: probes still to admit
	probesOK    int           // half-open: probes that succeeded
}

// New wraps next in a circuit breaker configured by cfg. A bad cfg gives an
// error naming the field (errors.Is ErrInvalidConfig). The breaker has no
// background work; ctx is accepted for the shape all policies share.
func New(ctx context.Context, next http.Handler, cfg gateway.BreakerPolicy, opts ...Option) (http.Handler, error) {
	_ = ctx
	if next == nil {
		return nil, errors.New("breaker: next handler is nil")
	}
	o := options{maxOpenFor: DefaultMaxOpenFor, clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	s, err := resolve(cfg, o.maxOpenFor)
	if err != nil {
		return nil, err
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	b := &Breaker{
		next:     next,
		cfg:      s,
		route:    o.route,
		log:      o.log,
		onChange: o.onChange,
		clock:    o.clock,
		epoch:    o.clock(),
		win:      newWindow(int64(s.window / numBuckets)),
		openFor:  s.openFor,
	}
	return b, nil
}

// now is nanoseconds since the breaker was made, on the monotonic clock.
func (b *Breaker) now() int64 { return int64(b.clock().Sub(b.epoch)) }

// State implements Metrics.
func (b *Breaker) State() string {
	st := b.word.Load() & stateMask
	if st == open {
		if r := b.rej.Load(); r != nil && b.now() >= r.until {
			return StateHalfOpen
		}
	}
	return stateNames[st]
}

// Rejected implements Metrics.
func (b *Breaker) Rejected() uint64 { return b.rejected.Load() }

func (b *Breaker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	word := b.word.Load()
	if word&stateMask != closed {
		var ok bool
		if word, ok = b.admit(); !ok {
			b.reject(w)
			return
		}
	}
	var start int64
	if b.cfg.latency > 0 {
		start = b.now()
	}
	rec := recorderPool.Get().(*recorder)
	rec.ResponseWriter, rec.status = w, 0
	done := false
	defer func() {
		// next panicked (http.ErrAbortHandler from a proxy whose backend
		// died mid-body, or a bug): that is a failure, and a probe slot
		// must not leak. The panic goes on up unchanged.
		if !done {
			b.record(word, failure, 0)
		}
	}()
	b.next.ServeHTTP(rec, r)
	done = true

	status := rec.status
	rec.ResponseWriter = nil
	recorderPool.Put(rec)

	out := success
	if status >= 500 {
		out = failure
		// A proxy answers 502 when the client cancels; that is not the
		// backend's fault. A deadline (the route's timeout) still counts.
		if errors.Is(r.Context().Err(), context.Canceled) {
			out = ignored
		}
	}
	var latency time.Duration
	if b.cfg.latency > 0 {
		latency = time.Duration(b.now() - start)
	}
	b.record(word, out, latency)
}

// admit decides for a request that found the circuit not closed: it turns
// an open circuit half-open once OpenFor has passed, and lets probes
// through while half-open. It returns the word the request runs under.
func (b *Breaker) admit() (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	word := b.word.Load()
	switch word & stateMask {
	case closed:
		return word, true
	case open:
		if r := b.rej.Load(); r != nil && b.now() < r.until {
			return word, false
		}
		b.setState(halfOpen, fmt.Sprintf("open for %s, probing with %d request(s)", b.openFor, b.cfg.halfOpen))
		b.probesLeft, b.probesOK = b.cfg.halfOpen-1, 0
		return b.word.Load(), true
	default: // half-open
		if b.probesLeft == 0 {
			return word, false
		}
		b.probesLeft--
		return word, true
	}
}

// record counts one outcome of a request admitted under word.
func (b *Breaker) record(word uint64, out outcome, latency time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.word.Load() != word {
		return // the state changed while the request ran
	}
	switch word & stateMask {
	case closed:
		if out == ignored {
			return
		}
		fail := out == failure
		if fail {
			b.consecutive++
		} else {
			b.consecutive = 0
		}
		b.win.add(b.now(), fail, b.cfg.latency > 0 && latency > b.cfg.latency)
		if why := b.tripReason(); why != "" {
			b.trip(why, false)
		}
	case halfOpen:
		switch out {
		case ignored:
			b.probesLeft++ // let another request probe instead
		case failure:
			b.trip("probe failed", true)
		default:
			b.probesOK++
			if b.probesOK >= b.cfg.halfOpen {
				b.closeCircuit()
			}
		}
	}
}

// tripReason says why the circuit must open now, or "".
func (b *Breaker) tripReason() string {
	c := b.cfg
	if c.consecutive > 0 && b.consecutive >= c.consecutive {
		return fmt.Sprintf("%d consecutive failures", b.consecutive)
	}
	w := &b.win
	if w.total < int64(c.minRequests) {
		return ""
	}
	if c.errorRatio > 0 && float64(w.fails) >= c.errorRatio*float64(w.total) {
		return fmt.Sprintf("error ratio %.2f >= %.2f (%d of %d requests failed in the last %s)",
			float64(w.fails)/float64(w.total), c.errorRatio, w.fails, w.total, c.window)
	}
	if c.latency > 0 && w.slow > w.total-int64(math.Ceil(c.quantile*float64(w.total))) {
		return fmt.Sprintf("p%s latency above %s (%d of %d requests slower in the last %s)",
			strconv.FormatFloat(math.Round(c.quantile*1e4)/1e2, 'f', -1, 64), c.latency, w.slow, w.total, c.window)
	}
	return ""
}

// trip opens the circuit; grow doubles OpenFor (a probe failed).
func (b *Breaker) trip(why string, grow bool) {
	if grow {
		b.openFor = min(2*b.openFor, b.cfg.maxOpenFor)
	}
	msg := "circuit open"
	if b.route != "" {
		msg += " for route " + b.route
	}
	msg += ": " + why
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // keep ">=" readable for people with curl
	_ = enc.Encode(errorBody{Error: errorDetail{Code: "circuit_open", Message: msg}})
	b.rej.Store(&rejection{body: body.Bytes(), until: b.now() + int64(b.openFor)})
	b.setState(open, why)
}

func (b *Breaker) closeCircuit() {
	b.win.reset()
	b.consecutive = 0
	b.openFor = b.cfg.openFor
	b.rej.Store(nil)
	b.setState(closed, fmt.Sprintf("%d probe(s) succeeded", b.probesOK))
}

// setState moves to state to, bumping the generation. Called with mu held.
func (b *Breaker) setState(to uint64, why string) {
	old := b.word.Load()
	b.word.Store((old>>stateBits+1)<<stateBits | to)
	from, toName := stateNames[old&stateMask], stateNames[to]
	level := slog.LevelInfo
	if to == open {
		level = slog.LevelWarn
	}
	b.log.Log(context.Background(), level, "circuit breaker state change",
		"route", b.route, "from", from, "to", toName, "reason", why)
	if b.onChange != nil {
		b.onChange(StateChange{Route: b.route, From: from, To: toName, Reason: why})
	}
}

// reject answers a request the circuit does not let through.
func (b *Breaker) reject(w http.ResponseWriter) {
	b.rejected.Add(1)
	r := b.rej.Load()
	if r == nil { // closed again in between; rare, answer generically
		r = &rejection{body: []byte(`{"error":{"code":"circuit_open","message":"circuit open"}}` + "\n")}
	}
	secs := int64(1)
	if wait := r.until - b.now(); wait > 0 {
		secs = (wait + int64(time.Second) - 1) / int64(time.Second)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write(r.body)
}

// errorBody has the shape of the API's error body (pkg/api.ErrorBody).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
