package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
)

// failKind classifies a try that produced no usable response.
type failKind int

const (
	tryOK       failKind = iota
	failDial             // could not connect: nothing was sent
	failStale            // a reused connection was found closed before any response byte
	failReset            // the connection failed before any response byte
	failTimeout          // no response within the try's time
	failProto            // a broken or truncated response
	failBody             // reading the client's request body failed
	failClient           // the client went away
)

var failNames = [...]string{"", "connect", "stale_connection", "reset", "timeout", "bad_response", "request_body", "client_gone"}

// bodyPool lends buffers for request bodies kept so a retry can resend them.
var bodyPool = sync.Pool{New: func() any { b := make([]byte, maxBufferedBody); return &b }}

// proxy forwards r to an endpoint of rs.tr, retrying as the route's policy
// allows, and streams the response back.
func (g *Gateway) proxy(w http.ResponseWriter, r *http.Request, rs *reqState) {
	rs.proxied = true
	rt := rs.rt
	if r.Method == http.MethodConnect {
		g.fail(w, r, rs, http.StatusMethodNotAllowed, "berth gateway: CONNECT is not supported")
		return
	}
	if rt.maxBody >= 0 && r.ContentLength > rt.maxBody {
		g.fail(w, r, rs, http.StatusRequestEntityTooLarge, "berth gateway: request body too large")
		return
	}
	if len(rs.tr.eps) == 0 {
		if rt.fallback == nil {
			rs.errKind = errNoEndpoint.Error()
			g.fail(w, r, rs, http.StatusServiceUnavailable,
				"berth gateway: no ready instance of "+rt.cfg.App+"/"+rt.cfg.Service)
			return
		}
		rs.tr = rt.fallback
	}
	tr := rs.tr

	upgrade := upgradeType(r.Header)
	hasBody := upgrade == "" && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	bodyLen := r.ContentLength
	if !hasBody {
		bodyLen = 0
	}
	retryOK := rt.retry != nil && rt.retry.methodOK(r.Method)
	// A request may be sent twice only if its body can be sent twice:
	// no body, or a small one with a known length, read in full first.
	// Streamed bodies are never retried: part of them may have reached an
	// instance.
	replayable := !hasBody
	if retryOK && hasBody && bodyLen > 0 && bodyLen <= maxBufferedBody {
		bp := bodyPool.Get().(*[]byte)
		rs.bodyBuf = bp
		if _, err := io.ReadFull(r.Body, (*bp)[:bodyLen]); err != nil {
			rs.errKind = failNames[failBody]
			g.fail(w, r, rs, http.StatusBadRequest, "berth gateway: reading the request body: "+err.Error())
			return
		}
		rs.body = (*bp)[:bodyLen]
		replayable = true
	}
	idempotent := retryOK || isIdempotent(r.Method)

	deadline := rs.start.Add(rt.timeout)
	if rt.retry != nil {
		rt.state.budget.request(rs.start.Unix())
	}
	maxTries := 1
	if retryOK && replayable {
		maxTries = rt.retry.attempts
	}
	tries, dialRetries, staleRetries := 0, 0, 0
	now := rs.start
	for {
		if tries > 0 || dialRetries > 0 || staleRetries > 0 {
			now = time.Now()
		}
		ep := tr.pick(rt.lb, now.UnixNano(), rs.tried)
		rs.ep = ep
		tryDeadline := deadline
		if rt.retry != nil && rt.retry.perTry > 0 {
			tryDeadline = minTime(tryDeadline, now.Add(rt.retry.perTry))
		}
		if d := g.opts.ResponseHeaderTimeout; d > 0 {
			tryDeadline = minTime(tryDeadline, now.Add(d))
		}
		ep.st.inflight.Add(1)
		pc, kind, err := g.try(r, rs, ep, now, tryDeadline, hasBody, bodyLen, upgrade)
		tries++
		now = time.Now()
		inTime := now.Before(deadline)
		switch kind {
		case tryOK:
			status := rs.head.status
			g.observe(rt, tr, ep, status >= 500, now)
			if (status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout) &&
				tries < maxTries && inTime && g.retryAllowed(rt, now) {
				g.discard(pc, rs, r.Method)
				ep.st.inflight.Add(-1)
				rs.retried(ep)
				continue
			}
			g.respond(w, r, rs, pc, upgrade, tryDeadline != deadline, deadline)
			ep.st.inflight.Add(-1)
			return
		case failStale:
			// The instance closed an idle connection: not its failure,
			// and not a retry worth budgeting. Safe to resend when the
			// request could be sent twice anyway.
			ep.st.inflight.Add(-1)
			if replayable && idempotent && staleRetries < 2 && inTime {
				staleRetries++
				tries--
				continue
			}
		case failDial:
			ep.st.inflight.Add(-1)
			g.observe(rt, tr, ep, true, now)
			// Nothing was sent, so any request may go to another
			// instance; this is not charged to the retry budget.
			if dialRetries < 2 && len(rs.tried)+1 < len(tr.eps) && inTime {
				dialRetries++
				tries--
				rs.tried = append(rs.tried, ep)
				continue
			}
			if tries < maxTries && inTime && g.retryAllowed(rt, now) {
				rs.retried(ep)
				continue
			}
		case failReset, failTimeout:
			ep.st.inflight.Add(-1)
			g.observe(rt, tr, ep, true, now)
			if tries < maxTries && inTime && g.retryAllowed(rt, now) {
				rs.retried(ep)
				continue
			}
		case failProto:
			ep.st.inflight.Add(-1)
			g.observe(rt, tr, ep, true, now)
		default: // failBody, failClient
			ep.st.inflight.Add(-1)
		}
		g.failTry(w, r, rs, kind, err, now)
		return
	}
}

func (rs *reqState) retried(ep *endpoint) {
	rs.retries++
	rs.rt.m.retries.Inc()
	rs.tried = append(rs.tried, ep)
}

func (g *Gateway) retryAllowed(rt *route, now time.Time) bool {
	if rt.retry == nil {
		return false
	}
	if rt.state.budget.take(now.Unix(), rt.retry.budget) {
		return true
	}
	rt.m.exhausted.Inc()
	return false
}

func isIdempotent(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// try sends r once to ep and reads the response head into rs.head.
func (g *Gateway) try(r *http.Request, rs *reqState, ep *endpoint, now, deadline time.Time, hasBody bool, bodyLen int64, upgrade string) (*pconn, failKind, error) {
	ctx := r.Context()
	pc, err := ep.up.get(ctx, deadline)
	if err != nil {
		if ctx.Err() != nil {
			return nil, failClient, err
		}
		return nil, failDial, err
	}
	rs.wait = waiter{pc: pc, ctx: ctx, final: deadline, client: rs.conn}
	rs.wait.arm(now)

	sendLen := bodyLen
	streamed := hasBody && rs.body == nil
	if streamed {
		if r.ContentLength < 0 {
			sendLen = -1
		}
		// An upload may take longer than a watch interval.
		_ = pc.c.SetWriteDeadline(deadline)
		pc.armed = time.Time{}
	}
	writeHead(pc.bw, r, rs.reqID, sendLen, upgrade)
	var werr error
	switch {
	case rs.body != nil:
		_, werr = pc.bw.Write(rs.body)
	case streamed:
		werr = sendBody(pc.bw, r.Body, sendLen, rs.rt.maxBody)
	}
	if werr == nil && (streamed || !pc.fr.deferFlush()) {
		// A request sent whole is flushed by the first read of its
		// response instead (see flushReader): its errors come back from
		// that read, before any response byte, and are classified the
		// same way as a failed write here. A streamed body is flushed
		// now: the instance may answer before it has read all of it.
		werr = pc.bw.Flush()
	}
	if werr != nil {
		if isBodyError(werr) {
			_ = pc.c.Close()
			if ctx.Err() != nil {
				return nil, failClient, werr
			}
			return nil, failBody, werr
		}
		if !streamed {
			_ = pc.c.Close()
			return nil, earlyFailure(ctx, pc, werr), werr
		}
		// The instance stopped reading the body; it may have answered
		// already (a 413 of its own, say), so look for a response.
	}
	if err := rs.head.read(&rs.wait, pc.br); err != nil {
		_ = pc.c.Close()
		if !rs.head.sawByte {
			return nil, earlyFailure(ctx, pc, err), err
		}
		if errors.Is(err, errClientGone) {
			return nil, failClient, err
		}
		if isTimeout(err) {
			return nil, failTimeout, err
		}
		return nil, failProto, err
	}
	return pc, tryOK, nil
}

// earlyFailure classifies an error met before any response byte.
func earlyFailure(ctx context.Context, pc *pconn, err error) failKind {
	switch {
	case errors.Is(err, errClientGone) || ctx.Err() != nil:
		return failClient
	case isTimeout(err):
		return failTimeout
	case pc.reused && (errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)):
		return failStale
	default:
		return failReset
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// release returns a connection after a complete response, or closes it.
func release(pc *pconn, reusable bool) {
	if reusable {
		pc.up.put(pc)
		return
	}
	_ = pc.c.Close()
}

// discard throws away a response that will be retried: a small body
// already buffered is skipped so the connection can be reused; anything
// else closes it.
func (g *Gateway) discard(pc *pconn, rs *reqState, method string) {
	h := &rs.head
	if h.noBody(method) {
		release(pc, !h.close)
		return
	}
	if !h.chunked && h.contentLength >= 0 && h.contentLength <= int64(pc.br.Buffered()) {
		_, _ = pc.br.Discard(int(h.contentLength))
		release(pc, !h.close)
		return
	}
	_ = pc.c.Close()
}

// respond passes the response head to the client and streams the body.
func (g *Gateway) respond(w http.ResponseWriter, r *http.Request, rs *reqState, pc *pconn, upgrade string, resetDeadline bool, deadline time.Time) {
	head := &rs.head
	if head.status == http.StatusSwitchingProtocols && upgrade == "" {
		_ = pc.c.Close()
		g.observe(rs.rt, rs.tr, rs.ep, true, time.Now())
		g.failTry(w, r, rs, failProto, errors.New("switched protocols unasked"), time.Now())
		return
	}
	if fw := ownWriter(w); fw != nil && head.status != http.StatusSwitchingProtocols {
		rs.status = head.status
		g.respondOwn(w, fw, r, rs, pc, resetDeadline, deadline)
		return
	}
	h := w.Header()
	fields := head.strFields()
	vals := make([]string, len(fields))
	for i, f := range fields {
		if head.status == http.StatusSwitchingProtocols {
			if f.key == "Keep-Alive" || f.key == "Proxy-Connection" || f.key == "Transfer-Encoding" || f.key == "Content-Length" {
				continue
			}
		} else if head.skip(f.key) {
			continue
		}
		if old, ok := h[f.key]; ok {
			h[f.key] = append(old, f.val)
			continue
		}
		vals[i] = f.val
		h[f.key] = vals[i : i+1 : i+1]
	}
	if _, ok := h[hdrRequestID]; !ok {
		h[hdrRequestID] = r.Header[hdrRequestID]
	}
	if rs.rt.showRelease {
		h[ReleaseHeader] = rs.ep.releaseHdr
	}
	if rs.setSticky {
		h["Set-Cookie"] = append(h["Set-Cookie"], rs.tr.cookieHdr[0])
	}
	rs.status = head.status

	if head.status == http.StatusSwitchingProtocols {
		n, hijacked, err := g.tunnel(w, pc)
		rs.bytes = n
		if err != nil {
			_ = pc.c.Close()
			rs.errKind = "upgrade"
			g.log.Warn("gateway: upgrade failed", "route", rs.rt.id, "backend", rs.ep.addr, "err", err)
			if !hijacked {
				g.fail(w, r, rs, http.StatusBadGateway, "berth gateway: cannot switch protocols on this connection")
			}
		}
		return
	}

	events := isEventStream(h)
	g.copyBody(w, r, rs, pc, events, resetDeadline, deadline)
}

// ownWriter returns the gateway's own server's writer when the proxy
// writes to it directly (or through the gateway's own recorder only), so
// the response head can go straight into its buffer.
func ownWriter(w http.ResponseWriter) *h1writer {
	switch w := w.(type) {
	case *h1writer:
		return w
	case *respWriter:
		fw, _ := w.w.(*h1writer)
		return fw
	}
	return nil
}

func (g *Gateway) respondOwn(w http.ResponseWriter, fw *h1writer, r *http.Request, rs *reqState, pc *pconn, resetDeadline bool, deadline time.Time) {
	fw.proxyHead(&rs.head, rs)
	if rw, ok := w.(*respWriter); ok {
		rw.status = rs.head.status
	}
	g.copyBody(w, r, rs, pc, rs.head.eventStream(), resetDeadline, deadline)
}

// copyBody streams the response body after its head.
func (g *Gateway) copyBody(w http.ResponseWriter, r *http.Request, rs *reqState, pc *pconn, events, resetDeadline bool, deadline time.Time) {
	head := &rs.head
	stream := head.chunked || head.contentLength < 0 || events
	switch {
	case events:
		// An event stream lasts as long as the client listens: no total
		// deadline; the waiter's client watch ends it.
		rs.wait.final = time.Time{}
	case resetDeadline:
		rs.wait.final = deadline
	}
	w.WriteHeader(head.status)
	if head.noBody(r.Method) {
		release(pc, !head.close)
		return
	}
	c := bodyCopier{w: w, wait: &rs.wait, stream: stream}
	var err error
	switch {
	case head.chunked:
		err = c.copyChunked(pc.br)
	case head.contentLength >= 0:
		err = c.copyN(pc.br, head.contentLength)
	default:
		err = c.copyEOF(pc.br)
		head.close = true
	}
	rs.bytes = c.n
	if err == nil {
		release(pc, !head.close)
		return
	}
	_ = pc.c.Close()
	if c.clientErr != nil || errors.Is(err, errClientGone) || r.Context().Err() != nil {
		rs.errKind = failNames[failClient]
		return
	}
	// The instance broke off mid-body. The status line is gone already;
	// aborting makes the client see a broken response rather than a
	// complete-looking truncated one.
	rs.errKind = "truncated_body"
	rs.abort = true
	g.observe(rs.rt, rs.tr, rs.ep, true, time.Now())
	g.log.Warn("gateway: response body broken off", "route", rs.rt.id, "backend", rs.ep.addr, "err", err)
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && strings.HasPrefix(ct[0], "text/event-stream")
}

// failTry answers a request whose last try failed.
func (g *Gateway) failTry(w http.ResponseWriter, r *http.Request, rs *reqState, kind failKind, err error, now time.Time) {
	rs.errKind = failNames[kind]
	switch kind {
	case failClient:
		rs.status = 499 // nginx's code for "client closed request"; nothing is sent
		return
	case failBody:
		if errors.Is(err, errBodyTooLarge) {
			g.fail(w, r, rs, http.StatusRequestEntityTooLarge, "berth gateway: request body too large")
			return
		}
		g.fail(w, r, rs, http.StatusBadRequest, "berth gateway: reading the request body failed")
		return
	case failTimeout:
		g.fail(w, r, rs, http.StatusGatewayTimeout, "berth gateway: the app's service did not answer in time")
	default:
		g.fail(w, r, rs, http.StatusBadGateway, "berth gateway: the app's service is not answering ("+rs.errKind+")")
	}
	ep := ""
	if rs.ep != nil {
		ep = rs.ep.addr
	}
	g.log.Warn("gateway: request failed", "route", rs.rt.id, "backend", ep, "kind", rs.errKind,
		"tries", rs.retries+1, "request_id", rs.reqID, "err", err)
}

// fail answers with a short plain-text error of the gateway's own.
func (g *Gateway) fail(w http.ResponseWriter, r *http.Request, rs *reqState, code int, msg string) {
	rs.status = code
	if id := r.Header[hdrRequestID]; len(id) > 0 {
		w.Header()[hdrRequestID] = id
	}
	http.Error(w, msg, code)
	rs.bytes = int64(len(msg) + 1)
}
