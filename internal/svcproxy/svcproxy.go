// Package svcproxy gives every service a stable local address. Dependents
// are started with 127.0.0.1:<stable port> in their environment; the proxy
// listening there forwards each connection to one of the service's ready
// instances, whatever release they belong to, so instances can come and go
// during a rollout without dependents being restarted.
package svcproxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"
)

// Defaults for Proxy's tunables.
const (
	DefaultWaitTimeout = 5 * time.Second
	DefaultDialTimeout = 2 * time.Second
)

// ErrClosed is returned by Set after Close.
var ErrClosed = errors.New("svcproxy: closed")

// Proxy holds one listener per service.
type Proxy struct {
	logger *slog.Logger
	// WaitTimeout is how long a connection waits for an endpoint when the
	// service has none (or none answers) before it is closed: long enough
	// to bridge the moment between two instances in a rollout.
	WaitTimeout time.Duration
	// DialTimeout bounds one connection attempt to an endpoint.
	DialTimeout time.Duration

	mu       sync.Mutex
	services map[svcKey]*service
	closed   bool
}

type svcKey struct{ app, service string }

// New returns an empty Proxy.
func New(logger *slog.Logger) *Proxy {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Proxy{
		logger:      logger,
		WaitTimeout: DefaultWaitTimeout,
		DialTimeout: DefaultDialTimeout,
		services:    make(map[svcKey]*service),
	}
}

// Set makes 127.0.0.1:port forward to endpoints ("host:port" of ready
// instances). The listener opens on the first call (an error if the port is
// taken) and moves if port changes; endpoints are swapped atomically, and
// connections already forwarded keep going.
func (p *Proxy) Set(app, svc string, port int, endpoints []string) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("svcproxy: %s/%s: port %d is not between 1 and 65535", app, svc, port)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	k := svcKey{app, svc}
	s := p.services[k]
	if s != nil && s.port != port {
		s.close()
		delete(p.services, k)
		s = nil
	}
	if s == nil {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return fmt.Errorf("svcproxy: %s/%s: listen on port %d: %w", app, svc, port, err)
		}
		s = newService(p, app, svc, port, ln)
		p.services[k] = s
		s.wg.Add(1)
		go s.serve()
		p.logger.Debug("service address opened", "app", app, "service", svc, "port", port)
	}
	s.setEndpoints(endpoints)
	return nil
}

// Remove closes the service's listener and its open connections.
func (p *Proxy) Remove(app, svc string) {
	p.mu.Lock()
	s := p.services[svcKey{app, svc}]
	delete(p.services, svcKey{app, svc})
	p.mu.Unlock()
	if s != nil {
		s.close()
	}
}

// RemoveApp removes every service of app.
func (p *Proxy) RemoveApp(app string) {
	p.mu.Lock()
	var gone []*service
	for k, s := range p.services {
		if k.app == app {
			gone = append(gone, s)
			delete(p.services, k)
		}
	}
	p.mu.Unlock()
	for _, s := range gone {
		s.close()
	}
}

// Endpoints returns the service's current endpoints (for status and tests).
func (p *Proxy) Endpoints(app, svc string) []string {
	p.mu.Lock()
	s := p.services[svcKey{app, svc}]
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	eps, _ := s.snapshot()
	return append([]string(nil), eps...)
}

// Close closes every listener and connection and waits for their
// goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	all := p.services
	p.services = make(map[svcKey]*service)
	p.mu.Unlock()
	for _, s := range all {
		s.close()
	}
	return nil
}

// FreePort returns a loopback TCP port that is free now. Another process
// may take it before it is used; callers that persist it (stable service
// ports) retry with a new one when Set reports it taken.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("svcproxy: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dial opens a connection to one endpoint.
func (p *Proxy) dial(ctx context.Context, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: p.DialTimeout}
	return d.DialContext(ctx, "tcp", addr)
}
