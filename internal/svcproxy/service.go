package svcproxy

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// service is one listener and the connections it forwards.
type service struct {
	p         *Proxy
	app, name string
	port      int
	ln        net.Listener

	ctx    context.Context // ends when the service is closed
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	endpoints []string
	next      int
	// changed is closed (and replaced) when endpoints change, waking
	// connections waiting for one.
	changed chan struct{}
	conns   map[net.Conn]struct{}
	closed  bool
}

func newService(p *Proxy, app, name string, port int, ln net.Listener) *service {
	ctx, cancel := context.WithCancel(context.Background())
	return &service{
		p: p, app: app, name: name, port: port, ln: ln,
		ctx: ctx, cancel: cancel,
		changed: make(chan struct{}),
		conns:   make(map[net.Conn]struct{}),
	}
}

func (s *service) setEndpoints(eps []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if equal(s.endpoints, eps) {
		return
	}
	s.endpoints = append([]string(nil), eps...)
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *service) snapshot() ([]string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.endpoints, s.changed
}

// pick returns the endpoints in the order to try them: round-robin start.
func (s *service) pick() ([]string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.endpoints)
	if n == 0 {
		return nil, s.changed
	}
	start := s.next % n
	s.next = (s.next + 1) % n
	order := make([]string, 0, n)
	order = append(order, s.endpoints[start:]...)
	order = append(order, s.endpoints[:start]...)
	return order, s.changed
}

// track registers c so close can end it; false if the service is closed.
func (s *service) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *service) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// close stops accepting, closes every connection and waits for the
// service's goroutines.
func (s *service) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.ln.Close()
	s.wg.Wait()
}

func (s *service) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				s.p.logger.Warn("service address accept failed", "app", s.app, "service", s.name, "err", err)
			}
			return
		}
		if !s.track(c) {
			c.Close()
			return
		}
		s.wg.Add(1)
		go s.handle(c)
	}
}

func (s *service) handle(client net.Conn) {
	defer s.wg.Done()
	defer s.untrack(client)
	defer client.Close()

	upstream := s.connect()
	if upstream == nil {
		return
	}
	if !s.track(upstream) {
		upstream.Close()
		return
	}
	defer s.untrack(upstream)
	defer upstream.Close()

	// Each direction ends with a half-close of its destination, so a client
	// that shuts down its write side (HTTP/1.0, "send then read") still gets
	// the whole answer.
	done := make(chan struct{})
	go func() {
		pipe(upstream, client)
		close(done)
	}()
	pipe(client, upstream)
	<-done
}

// connect dials an endpoint, trying each in round-robin order, and waits up
// to WaitTimeout for one to appear or answer.
func (s *service) connect() net.Conn {
	ctx, cancel := context.WithTimeout(s.ctx, s.p.WaitTimeout)
	defer cancel()
	for {
		eps, changed := s.pick()
		for _, ep := range eps {
			c, err := s.p.dial(ctx, ep)
			if err == nil {
				return c
			}
			s.p.logger.Debug("service endpoint refused", "app", s.app, "service", s.name, "endpoint", ep, "err", err)
		}
		// Nothing to reach now: wait for new endpoints, or retry the same
		// ones shortly (an instance may be between restart and listen).
		retry := time.NewTimer(100 * time.Millisecond)
		if len(eps) == 0 {
			retry.Stop()
		}
		select {
		case <-changed:
		case <-retry.C:
		case <-ctx.Done():
			retry.Stop()
			s.p.logger.Warn("no reachable instance for service", "app", s.app, "service", s.name, "waited", s.p.WaitTimeout)
			return nil
		}
		retry.Stop()
	}
}

// pipe copies src to dst, then half-closes dst's write side (or closes it).
func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
