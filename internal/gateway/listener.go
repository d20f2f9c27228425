package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Listener wraps a plain (not TLS) listener for the gateway's own
// HTTP/1.1 server: pass the result to the Serve method of NewServer's
// http.Server.
//
//	srv := g.NewServer()
//	go srv.Serve(g.Listener(ln))
//
// Every accepted connection is served by the gateway itself while its
// requests are plain HTTP/1.1 (a method, an origin-form path, a Host, no
// body or a body of a given length). The first request that is anything
// else (an upgrade to WebSocket or h2c, HTTP/2 with prior knowledge,
// Expect: 100-continue, a chunked body, HTTP/1.0, a head too large or
// malformed) hands the connection, unread bytes included, to the
// http.Server, which serves it from then on. net/http costs about a dozen
// allocations, a goroutine and several deadline updates per request; the
// gateway's server reuses one request, header map and response writer per
// connection (see docs/gateway.md, "Performance").
//
// Close stops accepting, closes idle connections at once and the others
// after their response in progress; the listener's Drain(ctx) method
// waits for those. Requests on connections handed to the http.Server are
// drained by its Shutdown as usual.
func (g *Gateway) Listener(ln net.Listener) net.Listener {
	l := &h1Listener{
		g:       g,
		inner:   ln,
		handoff: make(chan net.Conn),
		done:    make(chan struct{}),
		conns:   map[*h1conn]struct{}{},
	}
	go l.acceptLoop()
	return l
}

// h1Listener owns the accept loop and the connections it serves; the
// http.Server sees only the connections handed off to it.
type h1Listener struct {
	g       *Gateway
	inner   net.Listener
	handoff chan net.Conn
	done    chan struct{} // closed when the accept loop ends
	err     error         // why it ended; read after done

	closeOnce sync.Once
	draining  atomic.Bool
	mu        sync.Mutex
	conns     map[*h1conn]struct{}
}

func (l *h1Listener) acceptLoop() {
	defer close(l.done)
	var backoff time.Duration
	for {
		c, err := l.inner.Accept()
		if err != nil {
			if acceptRetryable(err) {
				// Out of descriptors or buffers (a flood of connections
				// can do it): wait for some to close and go on, as
				// net/http's Serve does; ending here would stop serving
				// for good.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			l.err = err
			return
		}
		backoff = 0
		hc := l.g.newH1Conn(l, c)
		l.mu.Lock()
		if l.draining.Load() {
			l.mu.Unlock()
			_ = c.Close()
			continue
		}
		l.conns[hc] = struct{}{}
		l.mu.Unlock()
		go hc.serve()
	}
}

// acceptRetryable reports Accept errors that pass: timeouts and running
// out of descriptors or kernel memory.
func acceptRetryable(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM)
}

// Accept returns the connections the gateway hands to the http.Server.
func (l *h1Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.handoff:
		return c, nil
	case <-l.done:
		// A handoff may race the end of the accept loop; take it first.
		select {
		case c := <-l.handoff:
			return c, nil
		default:
		}
		if l.err == nil || errors.Is(l.err, net.ErrClosed) {
			return nil, net.ErrClosed
		}
		return nil, l.err
	}
}

// Close stops accepting and drains the gateway's own connections.
func (l *h1Listener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.draining.Store(true)
		for c := range l.conns {
			if c.idle.Load() {
				_ = c.c.Close()
			}
		}
		l.mu.Unlock()
		err = l.inner.Close()
	})
	return err
}

func (l *h1Listener) Addr() net.Addr { return l.inner.Addr() }

// Drain waits, after Close, until every connection the gateway's server
// serves itself has ended (each closes after its response in progress),
// or ctx ends. http.Server.Shutdown waits for the connections it was
// handed, not for these: call both.
func (l *h1Listener) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (l *h1Listener) forget(c *h1conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// give hands a connection to the http.Server; false if it stopped.
func (l *h1Listener) give(c net.Conn) bool {
	select {
	case l.handoff <- c:
		return true
	case <-l.done:
		return false
	}
}

// handoffConn is a connection whose first bytes were read by the
// gateway's server already: reads drain them first.
type handoffConn struct {
	net.Conn
	br *bufio.Reader
}

func (c *handoffConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// CloseWrite lets net/http half-close the connection as it does a
// *net.TCPConn's.
func (c *handoffConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
