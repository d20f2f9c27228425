// Package gatewayd runs a standalone gateway (`berth gateway`): the same
// gateway `berth server` embeds, fed over the API instead of from the
// store. It fetches the control plane's routing table
// (GET /api/v1/gateway/snapshot), follows the change log
// (GET /api/v1/watch) from the table's revision, and fetches the table
// again shortly after changes. When the control plane is down it keeps
// serving the last table, and resumes from the last revision when it is
// back. The last table is saved to a state file, so a gateway started
// while the control plane is down serves it too.
//
// Nothing is exclusive: any number of gateways can follow one control
// plane, on one machine (different listen addresses) or many.
package gatewayd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/policy"
	"github.com/berthdev/berth/pkg/client"
)

// Defaults for Config fields left zero.
const (
	DefaultDebounce      = 50 * time.Millisecond
	DefaultRetryMin      = 200 * time.Millisecond
	DefaultRetryMax      = 5 * time.Second
	DefaultStartTimeout  = 5 * time.Second
	DefaultFetchTimeout  = 30 * time.Second
	DefaultShutdownGrace = 10 * time.Second
)

// Config configures Run.
type Config struct {
	// Server is the control plane's API URL and Token a token of it.
	Server string
	Token  string
	// Env, when set, follows only that environment's routes (the gateway
	// Berth runs in an environment's cluster, with that environment's
	// gateway token); "" follows the apps of no environment.
	Env string
	// UserAgent is sent with every API call.
	UserAgent string
	// Listen serves HTTP/1.1 and h2c; TLSListen HTTPS and HTTP/2 with the
	// certificates of CertDir (NAME.crt + NAME.key), or self-signed ones
	// when CertDir is empty. At least one is required.
	Listen    string
	TLSListen string
	CertDir   string
	// StateFile keeps the last table; "" keeps none.
	StateFile string
	// AccessLog is a file the gateway appends JSON access lines to, "-"
	// for Stderr, "" for none.
	AccessLog string
	// MetricsListen serves /metrics (Prometheus), /healthz and /readyz
	// (200 once a table is served); "" serves none.
	MetricsListen string
	Logger        *slog.Logger
	Stderr        io.Writer // for AccessLog "-" (default os.Stderr)
	// Debounce is how long the follower waits after an event before it
	// fetches, so a burst of events costs one fetch. RetryMin and RetryMax
	// bound the wait between failed fetches and watch attempts.
	// StartTimeout bounds the first fetch, after which the state file is
	// served; FetchTimeout any later one. ShutdownGrace is how long
	// requests in flight may take to finish once ctx ends.
	Debounce      time.Duration
	RetryMin      time.Duration
	RetryMax      time.Duration
	StartTimeout  time.Duration
	FetchTimeout  time.Duration
	ShutdownGrace time.Duration
}

func (c *Config) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Stderr == nil {
		c.Stderr = os.Stderr
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Debounce, DefaultDebounce)
	def(&c.RetryMin, DefaultRetryMin)
	def(&c.RetryMax, DefaultRetryMax)
	def(&c.StartTimeout, DefaultStartTimeout)
	def(&c.FetchTimeout, DefaultFetchTimeout)
	def(&c.ShutdownGrace, DefaultShutdownGrace)
	c.RetryMax = max(c.RetryMax, c.RetryMin)
}

// Run serves the gateway until ctx ends (then it shuts down gracefully and
// returns nil) or a listener fails. It fails at once when the control
// plane rejects the token, since that will not fix itself; a control plane
// that cannot be reached is waited for, serving the saved table.
func Run(ctx context.Context, cfg Config) error {
	cfg.setDefaults()
	log := cfg.Logger
	if cfg.Server == "" {
		return errors.New("gateway: the control plane's URL is required")
	}
	if cfg.Listen == "" && cfg.TLSListen == "" {
		return errors.New("gateway: nothing to serve: give a listen address, a TLS listen address, or both")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m, err := newFollowerMetrics(registry)
	if err != nil {
		return fmt.Errorf("gateway: metrics: %w", err)
	}
	gw, closeGateway, err := newGateway(cfg, registry)
	if err != nil {
		return err
	}
	defer closeGateway()

	// A table saved for another environment is never served.
	identity := cfg.Server
	if cfg.Env != "" {
		identity += "#env=" + cfg.Env
	}
	f := &follower{
		gw: gw, server: identity, stateFile: cfg.StateFile, log: log, m: m, now: time.Now,
		debounce: cfg.Debounce, retryMin: cfg.RetryMin, retryMax: cfg.RetryMax, fetchTimeout: cfg.FetchTimeout,
		dirty: make(chan struct{}, 1),
	}
	c := client.New(cfg.Server, cfg.Token, client.WithUserAgent(cfg.UserAgent), client.WithWatchState(f.watchState))
	f.src = c
	if cfg.Env != "" {
		f.src = envSource{Client: c, env: cfg.Env}
	}

	srvs, err := listen(cfg, gw, f, registry)
	if err != nil {
		return err
	}
	if err := start(ctx, cfg, f); err != nil {
		srvs.closeListeners()
		return err
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(srvs.servers))
	for i := range srvs.servers {
		srv, ln := srvs.servers[i], srvs.listeners[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	wg.Add(1)
	go func() { defer wg.Done(); f.run(ctx) }()
	log.Info("berth gateway ready", "server", cfg.Server, "revision", gw.Revision(),
		"http", srvs.addr("http"), "https", srvs.addr("https"), "metrics", srvs.addr("metrics"),
		"state_file", cfg.StateFile)

	select {
	case <-ctx.Done():
	case err = <-errc:
		log.Error("gateway: stopping", "err", err)
	}
	cancel()
	shutCtx, done := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer done()
	for _, srv := range srvs.servers {
		_ = srv.Shutdown(shutCtx)
	}
	// The gateway's own HTTP/1.1 server finishes its requests in flight
	// too (Shutdown closed its listener).
	for _, ln := range srvs.listeners {
		if d, ok := ln.(interface{ Drain(context.Context) error }); ok {
			_ = d.Drain(shutCtx)
		}
	}
	wg.Wait()
	log.Info("berth gateway stopped")
	return err
}

// start loads the first table: the control plane's, else the state
// file's, else none (every request 404 until the control plane answers).
func start(ctx context.Context, cfg Config, f *follower) error {
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	err := f.sync(sctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case fatalAtStart(err):
		return fmt.Errorf("gateway: the control plane at %s refused: %w", cfg.Server, err)
	case errors.Is(err, ErrRejected):
		// Fetching again will not help; the next change brings a new table.
		f.log.Error("gateway: the control plane's table was refused", "server", cfg.Server, "err", err)
	default:
		f.log.Warn("gateway: the control plane cannot be reached; retrying in the background", "server", cfg.Server, "err", err)
		f.markDirty()
	}
	if serr := f.loadSaved(); serr != nil {
		f.log.Warn("gateway: no saved table to serve; every request gets 404 until the control plane answers", "err", serr)
	}
	return nil
}

// newGateway builds the gateway with the policy middlewares (which also
// strip client-sent identity headers on routes without auth), the access
// log and TLS. The func closes it and the access log.
func newGateway(cfg Config, reg prometheus.Registerer) (*gateway.Gateway, func(), error) {
	opts := gateway.Options{Logger: cfg.Logger, Metrics: reg}
	opts.Middlewares = policy.Middlewares(policy.Options{Logger: cfg.Logger})
	closeLog := func() {}
	switch cfg.AccessLog {
	case "":
	case "-":
		opts.AccessLog = slog.New(slog.NewJSONHandler(cfg.Stderr, nil))
	default:
		file, err := os.OpenFile(cfg.AccessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: access log: %w", err)
		}
		opts.AccessLog = slog.New(slog.NewJSONHandler(file, nil))
		closeLog = func() { _ = file.Close() }
	}
	if cfg.TLSListen != "" {
		opts.TLS = &gateway.TLSOptions{CertDir: cfg.CertDir, SelfSigned: cfg.CertDir == ""}
	}
	gw := gateway.New(opts)
	return gw, func() { _ = gw.Close(); closeLog() }, nil
}

// servers are the HTTP servers and the listeners they serve.
type servers struct {
	servers   []*http.Server
	listeners []net.Listener
	names     []string
}

func (s *servers) add(name string, srv *http.Server, ln net.Listener) {
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, ln)
	s.names = append(s.names, name)
}

func (s *servers) addr(name string) string {
	for i, n := range s.names {
		if n == name {
			scheme := "http"
			if n == "https" {
				scheme = "https"
			}
			return scheme + "://" + s.listeners[i].Addr().String()
		}
	}
	return "off"
}

func (s *servers) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

// listen opens every listener before anything is served, so a taken port
// fails the start instead of leaving a half-started gateway.
func listen(cfg Config, gw *gateway.Gateway, f *follower, reg *prometheus.Registry) (*servers, error) {
	s := &servers{}
	fail := func(err error) (*servers, error) {
		s.closeListeners()
		return nil, err
	}
	if cfg.Listen != "" {
		ln, err := net.Listen("tcp", cfg.Listen)
		if err != nil {
			return fail(fmt.Errorf("gateway: listen on %s: %w", cfg.Listen, err))
		}
		s.add("http", gw.NewServer(), gw.Listener(ln))
	}
	if cfg.TLSListen != "" {
		tlsCfg, err := gw.TLSConfig()
		if err != nil {
			return fail(fmt.Errorf("gateway: HTTPS: %w", err))
		}
		ln, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			return fail(fmt.Errorf("gateway: HTTPS listen on %s: %w", cfg.TLSListen, err))
		}
		srv := gw.NewServer()
		srv.TLSConfig = tlsCfg
		s.add("https", srv, tls.NewListener(ln, tlsCfg))
	}
	if cfg.MetricsListen != "" {
		ln, err := net.Listen("tcp", cfg.MetricsListen)
		if err != nil {
			return fail(fmt.Errorf("gateway: metrics listen on %s: %w", cfg.MetricsListen, err))
		}
		s.add("metrics", &http.Server{
			Handler:           opsHandler(reg, f),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		}, ln)
	}
	return s, nil
}

// opsHandler serves /metrics, /healthz (the process is up) and /readyz
// (a table is served, from the control plane or the state file).
func opsHandler(reg *prometheus.Registry, f *follower) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !f.ready() {
			http.Error(w, "no routing table yet", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintf(w, "ok revision %d\n", f.gw.Revision())
	})
	return mux
}
