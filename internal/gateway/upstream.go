package gateway

import (
	"bufio"
	"context"
	"net"
	"sync"
	"time"
)

// Connection buffer sizes: the reader holds a whole response header and,
// for small responses, the body too, so most responses are forwarded with
// no other copy.
const (
	readBufSize  = 16 << 10
	writeBufSize = 8 << 10
)

// aliveCheckAfter is how long a connection may sit idle before it is
// checked for a close by the instance (a cheap non-blocking peek) before
// reuse; under load connections are reused sooner and skip the check.
const aliveCheckAfter = time.Second

// upstream is the pool of kept-alive HTTP/1.1 connections to one instance
// address, shared by every route that uses it. Requests are written and
// responses read by the request's own goroutine: no per-connection reader
// and writer goroutines, which are most of net/http.Transport's cost.
type upstream struct {
	addr    string
	dialer  *net.Dialer
	maxIdle int

	mu     sync.Mutex
	idle   []*pconn // most recently used last
	closed bool
}

// pconn is one connection to an instance.
type pconn struct {
	up     *upstream
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool
	armed  time.Time   // the deadline set on c (see waiter.arm)
	fr     flushReader // under br: sends a request with the wait for its response
}

// upstream returns the pool for addr, creating it on first use; ups
// collects the pools the table being compiled uses.
func (g *Gateway) upstream(addr string, ups map[string]*upstream) *upstream {
	if u := ups[addr]; u != nil {
		return u
	}
	g.upMu.Lock()
	defer g.upMu.Unlock()
	u := g.upstreams[addr]
	if u == nil {
		u = &upstream{addr: addr, dialer: g.dialer, maxIdle: g.opts.MaxIdlePerEndpoint}
		g.upstreams[addr] = u
	}
	ups[addr] = u
	return u
}

// retireUpstreams closes the pools no served route uses (g.upRefs):
// those among candidates, or any when candidates is nil. Requests still
// holding one of their connections close it when done. Callers hold
// loadMu.
func (g *Gateway) retireUpstreams(candidates map[string]*upstream) {
	g.upMu.Lock()
	defer g.upMu.Unlock()
	retire := func(addr string, u *upstream) {
		if g.upRefs[addr] == 0 {
			u.close()
			delete(g.upstreams, addr)
		}
	}
	if candidates == nil {
		for addr, u := range g.upstreams {
			retire(addr, u)
		}
		return
	}
	for addr := range candidates {
		if u := g.upstreams[addr]; u != nil {
			retire(addr, u)
		}
	}
}

// get returns an idle connection, or dials a new one by deadline.
func (u *upstream) get(ctx context.Context, deadline time.Time) (*pconn, error) {
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			break
		}
		pc := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		// An instance may have closed a connection that sat idle (its own
		// keep-alive timeout, or a restart); finding that out by sending a
		// request on it could cost a non-idempotent request.
		if time.Since(pc.idleAt) < aliveCheckAfter || connAlive(pc.c) {
			pc.reused = true
			return pc, nil
		}
		_ = pc.c.Close()
	}
	// Only dials pay for a deadline context: most requests reuse a
	// connection.
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	c, err := u.dialer.DialContext(ctx, "tcp", u.addr)
	if err != nil {
		return nil, err
	}
	pc := &pconn{up: u, c: c}
	pc.bw = bufio.NewWriterSize(&pc.fr, writeBufSize)
	pc.fr.init(c, pc.bw)
	pc.br = bufio.NewReaderSize(&pc.fr, readBufSize)
	return pc, nil
}

// put returns a connection whose last response was read completely.
func (u *upstream) put(pc *pconn) {
	// Bytes already read past the response were sent unasked (a body on
	// a 204 or 304, say): the next request on the connection would take
	// them for its response, which may be another client's. (The same
	// bytes arriving later are caught by connAlive only when the
	// connection sat idle for aliveCheckAfter.)
	if pc.br.Buffered() > 0 {
		_ = pc.c.Close()
		return
	}
	pc.idleAt = time.Now()
	u.mu.Lock()
	if u.closed || len(u.idle) >= u.maxIdle {
		u.mu.Unlock()
		_ = pc.c.Close()
		return
	}
	u.idle = append(u.idle, pc)
	u.mu.Unlock()
}

// closeIdle closes connections idle since before cutoff.
func (u *upstream) closeIdle(cutoff time.Time) {
	u.mu.Lock()
	var old []*pconn
	keep := u.idle[:0]
	for _, pc := range u.idle {
		if pc.idleAt.Before(cutoff) {
			old = append(old, pc)
		} else {
			keep = append(keep, pc)
		}
	}
	clear(u.idle[len(keep):])
	u.idle = keep
	u.mu.Unlock()
	for _, pc := range old {
		_ = pc.c.Close()
	}
}

func (u *upstream) close() {
	u.mu.Lock()
	idle := u.idle
	u.idle, u.closed = nil, true
	u.mu.Unlock()
	for _, pc := range idle {
		_ = pc.c.Close()
	}
}

// janitor closes idle connections past IdleConnTimeout until the gateway
// closes.
func (g *Gateway) janitor() {
	defer g.wg.Done()
	every := g.opts.IdleConnTimeout / 2
	every = max(every, 100*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case now := <-t.C:
			g.upMu.Lock()
			ups := make([]*upstream, 0, len(g.upstreams))
			for _, u := range g.upstreams {
				ups = append(ups, u)
			}
			g.upMu.Unlock()
			for _, u := range ups {
				u.closeIdle(now.Add(-g.opts.IdleConnTimeout))
			}
		}
	}
}
