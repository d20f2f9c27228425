package gateway

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Sizes of a client connection's buffers. A request head must fit in the
// read buffer to be served by the gateway's server; a larger one is
// handed to net/http (which enforces MaxHeaderBytes).
const (
	h1ReadBuf  = 8 << 10
	h1WriteBuf = 4 << 10
)

// Client connection timeouts, as net/http's server has them in NewServer.
const (
	h1IdleTimeout       = 120 * time.Second
	h1ReadHeaderTimeout = 10 * time.Second
	// h1RearmSlack: an idle deadline is moved at most this often per
	// connection; updating it for every request costs a runtime timer
	// update each. The idle timeout is thus between 110 and 120 s.
	h1RearmSlack = 10 * time.Second
	// h1MaxDrain is how much of an unread request body is read and thrown
	// away to keep the connection; more closes it (net/http's figure).
	h1MaxDrain = 256 << 10
)

// h1conn is one client connection served by the gateway's own HTTP/1.1
// server. Its request, header map, URL and response writer are reused
// for every request on it: one request at a time, and nothing of a
// request is kept after its response (the access log is written before).
type h1conn struct {
	g      *Gateway
	l      *h1Listener
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	ctx    context.Context // carries the connection as stateKey; cancelled when the client is gone
	cancel context.CancelFunc
	base   *http.Request // zero request bound to ctx: copied into req for each request
	req    http.Request
	url    url.URL
	hdr    http.Header
	vals   []string
	fields []fieldPos
	raw    []byte // the request head, copied and canonicalised
	body   h1body
	w      h1writer
	remote string
	armed  time.Time   // the read deadline set on c; zero: none
	idle   atomic.Bool // waiting for a request (Close may close it)
	rs     *reqState   // the request being served
	fr     flushReader // under br: sends a response with the wait for the next request
}

func (g *Gateway) newH1Conn(l *h1Listener, c net.Conn) *h1conn {
	hc := &h1conn{g: g, l: l, c: c, hdr: http.Header{}, remote: c.RemoteAddr().String()}
	ctx, cancel := context.WithCancel(g.ctx)
	hc.ctx = context.WithValue(ctx, stateKey{}, hc)
	hc.cancel = cancel
	hc.base = (&http.Request{}).WithContext(hc.ctx)
	hc.w.c = hc
	hc.w.header = http.Header{}
	return hc
}

var (
	h1Readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, h1ReadBuf) }}
	h1Writers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, h1WriteBuf) }}
)

// serve runs the connection until it closes or is handed off.
func (c *h1conn) serve() {
	c.bw = h1Writers.Get().(*bufio.Writer)
	c.bw.Reset(&c.fr)
	c.fr.init(c.c, c.bw)
	c.fr.afterFlush = c.flushed
	c.br = h1Readers.Get().(*bufio.Reader)
	c.br.Reset(&c.fr)
	handedOff := false
	defer func() {
		if !handedOff {
			// A deferred response goes out before Drain may return.
			_ = c.fr.flushNow()
		}
		c.cancel()
		c.l.forget(c)
		if !handedOff {
			_ = c.c.Close()
			c.br.Reset(nil)
			h1Readers.Put(c.br)
		}
		c.bw.Reset(nil)
		h1Writers.Put(c.bw)
	}()
	for {
		if !c.fr.pending {
			// With a response still to send, the connection is not idle
			// yet: Close must not close it before the response is out.
			// flushed marks it idle once it is sent.
			c.idle.Store(true)
		}
		if c.l.draining.Load() {
			return
		}
		head, ok := c.readHead()
		if !ok {
			return
		}
		c.idle.Store(false)
		switch c.parse(head) {
		case parseHandoff:
			handedOff = c.l.give(&handoffConn{Conn: c.c, br: c.br})
			return
		case parseClose:
			return
		}
		_, _ = c.br.Discard(len(head))
		if !c.serveOne(len(head)) {
			return
		}
	}
}

// readHead waits for a complete request head in the read buffer and
// returns it (not consumed). false: the connection is done (closed,
// timed out, or its head does not fit: then it is handed off).
func (c *h1conn) readHead() ([]byte, bool) {
	var started time.Time
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], true
		}
		if len(buf) == c.br.Size() || bytes.Contains(buf, []byte("\n\n")) {
			// Too large for the gateway's server, or bare-LF lines: net/http
			// copes with both (and answers 431 to what is too large).
			return buf, true
		}
		now := time.Now()
		if len(buf) == 0 {
			if c.armed.IsZero() || c.armed.Before(now.Add(h1IdleTimeout-h1RearmSlack)) {
				c.setDeadline(now.Add(h1IdleTimeout))
			}
		} else if started.IsZero() {
			started = now
			// A deadline left from the previous request may have passed
			// while its response took long: this head gets its own.
			if d := now.Add(h1ReadHeaderTimeout); c.armed.IsZero() || d.Before(c.armed) ||
				c.armed.Before(now.Add(h1ReadHeaderTimeout/2)) {
				c.setDeadline(d)
			}
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			return nil, false
		}
	}
}

func (c *h1conn) setDeadline(d time.Time) {
	_ = c.c.SetReadDeadline(d)
	c.armed = d
}

// serveOne runs the handler for the parsed request and finishes the
// response; false: close the connection.
func (c *h1conn) serveOne(headLen int) (keep bool) {
	r := &c.req
	if r.ContentLength > 0 {
		// A body may take as long as it takes (net/http's server has no
		// body timeout either); the waiter bounds the exchange.
		c.setDeadline(time.Time{})
	}
	w := &c.w
	w.reset(r)
	defer func() {
		if p := recover(); p != nil {
			keep = false
			if p != http.ErrAbortHandler { //nolint:errorlint // net/http compares the same way
				c.g.log.Error("gateway: handler panicked", "panic", p)
			}
		}
		c.rs = nil
	}()
	c.g.serveH1(w, r, c, headLen)
	if !w.finish() {
		return false
	}
	if !w.closeAfter && c.br.Buffered() == 0 && (r.ContentLength <= 0 || c.body.left <= 0) && c.fr.deferFlush() {
		// The next read sends the response and waits for the next request
		// in one go (see flushReader). Not when a pipelined request is
		// buffered already: that response would wait for the next one.
		return true
	}
	if err := c.bw.Flush(); err != nil {
		return false
	}
	if r.ContentLength > 0 && c.body.left > 0 {
		// The response is sent: a client that stops sending the body it
		// announced must not hold the connection for ever.
		c.setDeadline(time.Now().Add(h1ReadHeaderTimeout))
		if !c.body.drain() {
			return false
		}
	}
	return !w.closeAfter
}

// flushed runs when a deferred response is sent: the connection is idle
// from then on, and a Close that came meanwhile (and left it open, as it
// was busy) ends it now.
func (c *h1conn) flushed() error {
	c.idle.Store(true)
	if c.l.draining.Load() {
		return net.ErrClosed
	}
	return nil
}

// gone reports whether the client closed its side of the connection,
// from a non-blocking peek; a pipelined request waiting is not gone.
func (c *h1conn) gone() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if peerClosed(c.c) {
		c.cancel()
		return true
	}
	return false
}

// h1body is a request body of known length, read straight from the
// connection's buffer.
type h1body struct {
	br     *bufio.Reader
	left   int64
	closed bool
}

func (b *h1body) Read(p []byte) (int, error) {
	if b.closed {
		return 0, http.ErrBodyReadAfterClose
	}
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.br.Read(p)
	b.left -= int64(n)
	if err == io.EOF && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err == nil && b.left == 0 {
		err = io.EOF
	}
	return n, err
}

func (b *h1body) Close() error {
	b.closed = true
	return nil
}

// drain discards what the handler left unread, so the next request can
// be read; false when that is too much (or failed): close instead.
func (b *h1body) drain() bool {
	if b.left <= 0 {
		return true
	}
	if b.left > h1MaxDrain {
		return false
	}
	n, err := b.br.Discard(int(b.left))
	b.left -= int64(n)
	return err == nil
}
