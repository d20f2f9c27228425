// Package gateway is Berth's HTTP entry point for every app: one address
// for all of them (public IPs are scarce). It routes by host, path,
// method and headers to a service's ready instances, splits traffic
// between a stable and a canary release, retries, ejects failing
// instances, and runs each route's policy middleware (auth, rate limits,
// circuit breaking) from the sibling packages.
//
// A provider hands the gateway whole Snapshots; Load compiles one into an
// immutable table swapped in atomically, so the request path takes no
// lock. The proxy core speaks HTTP/1.1 to instances itself, from the
// request's goroutine, with pooled keep-alive connections: see
// docs/gateway.md for why and for what it measures.
package gateway

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Gateway routes requests by the current table.
type Gateway struct {
	opts    Options
	log     *slog.Logger
	dialer  *net.Dialer
	table   atomic.Pointer[table]
	inner   *innerHandler // the proxy, as the innermost policy handler
	metrics *metrics

	ctx    context.Context // ends at Close: janitor, tunnels, middleware
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool

	loadMu sync.Mutex
	states map[string]*routeState // by route ID; guarded by loadMu
	byApp  map[string][]*route    // the table's routes by app; guarded by loadMu
	upRefs map[string]int         // routes' uses of each endpoint address; guarded by loadMu

	upMu      sync.Mutex
	upstreams map[string]*upstream // by address; guarded by upMu
}

// New returns a gateway with an empty table: every request gets 404 until
// Load is called. Close stops its background work.
func New(opts Options) *Gateway {
	opts = opts.withDefaults()
	g := &Gateway{
		opts:      opts,
		log:       opts.Logger,
		dialer:    &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second},
		states:    map[string]*routeState{},
		byApp:     map[string][]*route{},
		upRefs:    map[string]int{},
		upstreams: map[string]*upstream{},
	}
	m, err := newMetrics(opts.Metrics)
	if err != nil {
		g.log.Error("gateway: metrics not registered; serving them from a private registry", "err", err)
		m, _ = newMetrics(nil)
	}
	g.metrics = m
	g.inner = &innerHandler{g}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	g.table.Store(newTable(0, nil))
	g.wg.Add(1)
	go g.janitor()
	return g
}

// Close stops background work, ends upgraded connections and policy
// middleware, and closes idle connections to instances. Requests in
// flight finish; Load fails afterwards.
func (g *Gateway) Close() error {
	g.loadMu.Lock()
	g.closed.Store(true)
	g.loadMu.Unlock()
	g.cancel()
	g.wg.Wait()
	g.upMu.Lock()
	defer g.upMu.Unlock()
	for _, u := range g.upstreams {
		u.close()
	}
	return nil
}

// Revision is the snapshot revision being served.
func (g *Gateway) Revision() int64 { return g.table.Load().revision }

// MetricsHandler serves the gateway's Prometheus metrics (from
// Options.Metrics when it is also a Gatherer, as *prometheus.Registry is).
func (g *Gateway) MetricsHandler() http.Handler { return g.metrics.handler() }

// reqState is one request's bookkeeping; pooled.
type reqState struct {
	start     time.Time
	rt        *route
	tr        *track
	ep        *endpoint
	status    int
	bytes     int64
	retries   int
	reqID     string
	errKind   string
	setSticky bool
	proxied   bool // the proxy answered (else a middleware did)
	abort     bool
	tried     []*endpoint
	triedBuf  [4]*endpoint
	wait      waiter
	body      []byte
	bodyBuf   *[]byte
	head      respHead
	rw        respWriter
	idHdr     [1]string // backs the X-Request-Id the gateway adds
	conn      *h1conn   // the gateway's own server's connection; nil: net/http's
	headLen   int       // the request head's size, when conn is set
}

var statePool = sync.Pool{New: func() any { return new(reqState) }}

func (rs *reqState) reset() {
	if rs.bodyBuf != nil {
		bodyPool.Put(rs.bodyBuf)
	}
	head := rs.head
	head.reset()
	clear(rs.triedBuf[:])
	*rs = reqState{head: head}
	rs.tried = rs.triedBuf[:0]
	rs.head.ctype = -1
}

type stateKey struct{}

// ServeHTTP routes and forwards one request.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rs := statePool.Get().(*reqState)
	if rs.tried == nil {
		rs.reset()
	}
	rs.start = time.Now()
	// Deferred so that the access log and metrics are written, and the
	// state recycled, when a response is aborted by panic too.
	defer g.done(r, rs)
	g.serve(w, r, rs)
	if rs.abort {
		// net/http's way to cut a response short: the client sees a broken
		// response, not a complete-looking truncated one.
		panic(http.ErrAbortHandler)
	}
}

// serveH1 is ServeHTTP for the gateway's own server: the request state
// is found through the connection, whose context already carries it.
func (g *Gateway) serveH1(w http.ResponseWriter, r *http.Request, c *h1conn, headLen int) {
	rs := statePool.Get().(*reqState)
	if rs.tried == nil {
		rs.reset()
	}
	rs.start = time.Now()
	rs.conn, rs.headLen = c, headLen
	c.rs = rs
	defer g.done(r, rs)
	g.serve(w, r, rs)
	if rs.abort {
		panic(http.ErrAbortHandler)
	}
}

func (g *Gateway) done(r *http.Request, rs *reqState) {
	g.finish(r, rs)
	rs.reset()
	statePool.Put(rs)
}

func (g *Gateway) serve(w http.ResponseWriter, r *http.Request, rs *reqState) {
	rs.reqID = ensureRequestID(r, rs)
	rt := g.table.Load().match(r)
	if rt == nil {
		g.metrics.noRoute.Inc()
		g.fail(w, r, rs, http.StatusNotFound, "berth gateway: no route for "+normHost(r.Host)+r.URL.Path)
		return
	}
	rs.rt = rt
	rs.tr = rt.chooseTrack(r, rs)
	size := rs.headLen
	if rs.conn == nil {
		size = headerSize(r)
	}
	if size > g.opts.MaxHeaderBytes {
		g.fail(w, r, rs, http.StatusRequestHeaderFieldsTooLarge, "berth gateway: request header too large")
		return
	}
	if rt.handler == nil {
		g.proxy(w, r, rs)
		return
	}
	rs.rw = respWriter{w: w}
	if rs.conn != nil {
		// The connection's context leads to rs already.
		rt.handler.ServeHTTP(&rs.rw, r)
	} else {
		rt.handler.ServeHTTP(&rs.rw, r.WithContext(context.WithValue(r.Context(), stateKey{}, rs)))
	}
	if !rs.proxied {
		rs.status, rs.bytes = rs.rw.status, rs.rw.n
		if rs.status == 0 {
			rs.status = http.StatusOK
		}
	}
}

// innerHandler is the end of every policy middleware chain: the proxy,
// finding its request state in the context. (A pointer, so Load can tell
// whether a middleware returned it unwrapped.)
type innerHandler struct{ g *Gateway }

func (h *innerHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rs *reqState
	switch v := r.Context().Value(stateKey{}).(type) {
	case *reqState:
		rs = v
	case *h1conn:
		rs = v.rs
	}
	if rs == nil {
		http.Error(w, "berth gateway: policy handler called outside the gateway", http.StatusInternalServerError)
		return
	}
	h.g.proxy(w, r, rs)
	if rs.abort {
		// Abort inside the chain, so middleware such as the breaker sees
		// the broken response as a failure.
		panic(http.ErrAbortHandler)
	}
}

// headerSize approximates the request head's size on the wire; the HTTP
// server enforces MaxHeaderBytes only loosely (it allows 4 KiB more).
func headerSize(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Host) + 16
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// ensureRequestID returns the request's X-Request-ID, generating one (and
// adding it to the request) when the client sent none usable.
func ensureRequestID(r *http.Request, rs *reqState) string {
	if v := r.Header[hdrRequestID]; len(v) > 0 && v[0] != "" && len(v[0]) <= 128 {
		return v[0]
	}
	id := newRequestID()
	rs.idHdr[0] = id
	r.Header[hdrRequestID] = rs.idHdr[:]
	return id
}

const hexDigits = "0123456789abcdef"

// newRequestID returns 128 random bits in hex. math/rand/v2's generator
// is per-thread and lock-free; request IDs need uniqueness, not secrecy.
func newRequestID() string {
	var b [32]byte
	for half := range 2 {
		x := rand.Uint64()
		for i := range 16 {
			b[half*16+i] = hexDigits[x&15]
			x >>= 4
		}
	}
	return string(b[:])
}

// finish records metrics and the access log line.
func (g *Gateway) finish(r *http.Request, rs *reqState) {
	d := time.Since(rs.start)
	class := min(max(rs.status/100, 0), 5)
	switch {
	case rs.ep != nil:
		rs.ep.m.codes[class].Inc()
		rs.ep.m.dur.Observe(d.Seconds())
	case rs.tr != nil:
		rs.tr.m.codes[class].Inc()
		rs.tr.m.dur.Observe(d.Seconds())
	}
	if g.opts.AccessLog != nil && (rs.status >= 500 || g.opts.AccessLogSample >= 1 || rand.Float64() < g.opts.AccessLogSample) {
		g.logAccess(r, rs, d)
	}
}

// respWriter records what policy middleware answered by itself.
type respWriter struct {
	w      http.ResponseWriter
	status int
	n      int64
}

func (rw *respWriter) Header() http.Header { return rw.w.Header() }

func (rw *respWriter) WriteHeader(code int) {
	if rw.status == 0 && code >= 200 {
		rw.status = code
	}
	rw.w.WriteHeader(code)
}

func (rw *respWriter) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	n, err := rw.w.Write(b)
	rw.n += int64(n)
	return n, err
}

func (rw *respWriter) Flush() {
	if f, ok := rw.w.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer (for
// Hijack on upgrades).
func (rw *respWriter) Unwrap() http.ResponseWriter { return rw.w }
