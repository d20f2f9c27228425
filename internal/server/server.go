package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/clusterroute"
	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/policy"
	"github.com/berthdev/berth/internal/identity/oidclogin"
	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/routefeed"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	apitypes "github.com/berthdev/berth/pkg/api"
)

// shutdownGrace bounds how long in-flight API requests (and streams) may
// take to finish once the server is asked to stop.
const shutdownGrace = 5 * time.Second

// Run starts every part of the server and blocks until ctx ends or a
// listener fails. Instances keep running after it returns: they belong to
// their shims, and the next server adopts them.
func Run(ctx context.Context, cfg Config) error {
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.DataDir == "" {
		return errors.New("server: data dir is required")
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("server: create data dir: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	repl, err := openReplication(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer repl.Close()
	db, err := openFencedStore(ctx, cfg.DataDir, cfg.Database, repl.fenceByTerm)
	if err != nil {
		return fmt.Errorf("server: open store: %w", err)
	}
	defer func() { _ = db.Close() }()
	changes := api.NewBroadcaster()
	st := &pokingStore{Store: db, changes: changes, remote: func() { repl.Notify(ctx, channelChanges, "") }}

	if _, err := api.EnsureAdminToken(ctx, st, cfg.DataDir, time.Now().UTC(), logger); err != nil {
		return fmt.Errorf("server: admin token: %w", err)
	}
	ring, err := loadKeyring(ctx, st, cfg, logger)
	if err != nil {
		return err
	}
	secretStore := secretstore.New(st, ring)
	// Cluster credentials written in clear by an earlier build are sealed
	// before anything reads them.
	if n, err := secretStore.SealPlaintextClusters(ctx); err != nil {
		return fmt.Errorf("server: %w", err)
	} else if n > 0 {
		logger.Info("sealed cluster credentials stored in clear", "count", n)
	}
	if err := checkClusterCredentials(ctx, st, secretStore, logger); err != nil {
		return err
	}
	blobs, err := openBlobs(ctx, db, cfg.DataDir, logger)
	if err != nil {
		return err
	}
	builder, err := build.New(filepath.Join(cfg.DataDir, "builds"), blobs, logger)
	if err != nil {
		return fmt.Errorf("server: builder: %w", err)
	}
	if cfg.Pipelines.Secrets == nil {
		// Steps get the secrets of their app that they name.
		cfg.Pipelines.Secrets = secretStore
	}
	errc := make(chan error, 5) // leader-only work, the change listener and up to three servers
	work := &leaderWork{cfg: cfg, st: st, secrets: secretStore, builder: builder, log: logger, errc: errc}
	// Environments on clusters get their gateway (or HTTPRoutes). It
	// writes to clusters and to the store, so only the leader runs it.
	work.routing = func(ctx context.Context) {
		routing := clusterroute.New(clusterroute.Options{
			Store: st, Open: newClusterClients(st, cfg.clusterAccess(secretStore)).Open,
			ControlPlaneURL: cfg.AdvertiseURL, Image: cfg.gatewayImage(),
			Logger: logger.With("component", "routing"),
		})
		routing.Run(ctx, changes.Subscribe(ctx), 5*time.Second)
	}
	// The API's pokes reach this server's reconciler if it leads, and the
	// leader's through the database's notifications if another server does.
	notify := func(app string) {
		work.Notify(app)
		repl.Notify(ctx, channelReconcile, app)
	}
	pipes, err := newPipelines(ctx, cfg, st, cfg.clusterAccess(secretStore), blobs, notify, logger)
	if err != nil {
		return err
	}
	pipes.wake = func() { repl.Notify(ctx, channelRuns, "") }
	work.pipes = pipes
	work.retention = newRetention(cfg, st, blobs, logger)

	var sso *oidclogin.Client
	if cfg.OIDC != nil {
		if sso, err = oidclogin.New(ctx, *cfg.OIDC); err != nil {
			return fmt.Errorf("server: single sign-on: %w", err)
		}
		logger.Info("single sign-on enabled", "issuer", cfg.OIDC.Issuer, "redirect_url", cfg.OIDC.RedirectURL)
	}
	// One feed compiles the apps' routes for the embedded gateway and for
	// the snapshot API, each change once.
	routes := routefeed.NewFeed(st)
	handler := api.New(api.Deps{
		OIDC:          sso,
		SecureCookies: cfg.SecureCookies,
		Pipelines:     pipes,
		Store:         st,
		Blobs:         blobs,
		Notify:        notify,
		Logs:          work,
		Secrets:       secretStore,
		Clusters:      secretStore,
		InCluster:     cfg.inCluster(),
		Backup:        onlineBackup(db, blobs, ring.PrimaryID(), cfg.Version, logger),
		Logger:        logger,
		Version:       versionInfo(cfg.Version),
		Changes:       changes,
		Routes:        routes,
	})

	// /metrics is served on the API listener, beside the API; the gateway
	// registers its series here.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	repl.register(registry)
	registerPipelineMetrics(registry, pipes.Runner)
	registerRetentionMetrics(registry, work.retention)
	apiMux := http.NewServeMux()
	apiMux.Handle("/metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	apiMux.Handle("/", repl.logsToLeader(handler))

	gw, closeGateway, err := newGateway(cfg, logger, registry)
	if err != nil {
		return err
	}
	defer closeGateway()

	apiLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w (is another berth server running?)", cfg.Listen, err)
	}
	var gwLn, gwTLSLn net.Listener
	if gw != nil && cfg.GatewayListen != "" {
		if gwLn, err = net.Listen("tcp", cfg.GatewayListen); err != nil {
			apiLn.Close()
			return fmt.Errorf("server: gateway listen on %s: %w", cfg.GatewayListen, err)
		}
	}
	var gwTLS *tls.Config
	if gw != nil && cfg.GatewayTLSListen != "" {
		if gwTLS, err = gw.TLSConfig(); err == nil {
			gwTLSLn, err = net.Listen("tcp", cfg.GatewayTLSListen)
		}
		if err != nil {
			apiLn.Close()
			if gwLn != nil {
				gwLn.Close()
			}
			return fmt.Errorf("server: gateway HTTPS on %s: %w", cfg.GatewayTLSListen, err)
		}
	}

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		repl.Listen(ctx, func(channel, payload string) {
			switch channel {
			case channelChanges:
				changes.Poke()
			case channelReconcile:
				work.Notify(payload)
			case channelRuns:
				pipes.Wake(ctx)
			case channelLeader:
				repl.campaign()
			}
		}, func() {
			// Notifications sent while the connection was down are lost:
			// re-read everything once.
			changes.Poke()
			pipes.Wake(ctx)
		})
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		lead := func(ctx context.Context, t leader.Term) {
			repl.leading.Store(1)
			defer repl.leading.Store(0)
			work.lead(ctx, t)
		}
		if err := repl.elector.Run(ctx, lead); err != nil {
			errc <- fmt.Errorf("leader election: %w", err)
		}
		// The lease is released (or was never held): a follower need
		// not wait for its next retry to take it.
		nctx, done := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		repl.Notify(nctx, channelLeader, "")
		done()
	}()

	servers := []*http.Server{newHTTPServer(apiMux, logger)}
	listeners := []net.Listener{apiLn}
	if gw != nil {
		feed := &routeFeed{st: st, feed: routes, gw: gw, log: logger, wake: changes.Subscribe(ctx), tick: time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); feed.run(ctx) }()
	}
	if gwLn != nil {
		servers = append(servers, gw.NewServer())
		listeners = append(listeners, gw.Listener(gwLn))
	}
	if gwTLSLn != nil {
		srv := gw.NewServer()
		srv.TLSConfig = gwTLS
		servers = append(servers, srv)
		listeners = append(listeners, tls.NewListener(gwTLSLn, gwTLS))
	}
	for i := range servers {
		srv, ln := servers[i], listeners[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	logger.Info("berth server ready",
		"api", "http://"+apiLn.Addr().String(),
		"gateway", addrOrOff("http", gwLn),
		"gateway_tls", addrOrOff("https", gwTLSLn),
		"data_dir", cfg.DataDir,
		"admin_token_file", filepath.Join(cfg.DataDir, "admin-token"))

	select {
	case <-ctx.Done():
	case err = <-errc:
		logger.Error("server: stopping", "err", err)
	}
	cancel()
	shutCtx, done := context.WithTimeout(context.Background(), shutdownGrace)
	defer done()
	for _, srv := range servers {
		_ = srv.Shutdown(shutCtx)
	}
	// The gateway's own HTTP/1.1 connections are not net/http's to wait
	// for: let their requests in flight finish too.
	for _, ln := range listeners {
		if d, ok := ln.(interface{ Drain(context.Context) error }); ok {
			_ = d.Drain(shutCtx)
		}
	}
	wg.Wait()
	logger.Info("berth server stopped; running apps keep running")
	return err
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func addrOrOff(scheme string, ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return scheme + "://" + ln.Addr().String()
}

// newGateway builds the embedded gateway, or returns nil when no gateway
// listener is configured. The returned func closes it (and its access log).
func newGateway(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*gateway.Gateway, func(), error) {
	if cfg.GatewayListen == "" && cfg.GatewayTLSListen == "" {
		return nil, func() {}, nil
	}
	opts := gateway.Options{Logger: logger, Metrics: reg}
	// Every route goes through the policy chain, also routes without a
	// policy: it strips client-sent identity headers.
	opts.Middlewares = policy.Middlewares(policy.Options{Logger: logger})
	closeLog := func() {}
	switch cfg.GatewayAccessLog {
	case "":
	case "-":
		opts.AccessLog = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	default:
		f, err := os.OpenFile(cfg.GatewayAccessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("server: gateway access log: %w", err)
		}
		opts.AccessLog = slog.New(slog.NewJSONHandler(f, nil))
		closeLog = func() { _ = f.Close() }
	}
	if cfg.GatewayTLSListen != "" {
		opts.TLS = &gateway.TLSOptions{CertDir: cfg.GatewayCertDir, SelfSigned: cfg.GatewayCertDir == ""}
	}
	gw := gateway.New(opts)
	return gw, func() { _ = gw.Close(); closeLog() }, nil
}

func versionInfo(v string) apitypes.Version {
	out := apitypes.Version{Version: v}
	if bi, ok := debug.ReadBuildInfo(); ok {
		out.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				out.Commit = s.Value
			}
		}
	}
	if out.Version == "" {
		out.Version = "dev"
	}
	return out
}

// pokingStore wakes API watchers after every committed write, whoever made
// it (the API or the reconciler), so /watch streams changes at once instead
// of at its next poll.
type pokingStore struct {
	store.Store
	changes *api.Broadcaster
	// remote wakes the other servers on the same database.
	remote func()
}

func (s *pokingStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	err := s.Store.InTx(ctx, fn)
	if err == nil {
		s.changes.Poke()
		s.remote()
	}
	return err
}

// CreateEnvironment, UpdateEnvironment and DeleteEnvironment write no event, but the routing
// reconciler acts on them (a gateway to run, or to prune) at once.
func (s *pokingStore) CreateEnvironment(ctx context.Context, e store.Environment) error {
	err := s.Store.CreateEnvironment(ctx, e)
	if err == nil {
		s.changes.Poke()
	}
	return err
}

// UpdateEnvironment changes the gateway's TLS Secrets: the routing
// reconciler rolls the gateway at once.
func (s *pokingStore) UpdateEnvironment(ctx context.Context, e store.Environment) error {
	err := s.Store.UpdateEnvironment(ctx, e)
	if err == nil {
		s.changes.Poke()
	}
	return err
}

func (s *pokingStore) DeleteEnvironment(ctx context.Context, name string) error {
	err := s.Store.DeleteEnvironment(ctx, name)
	if err == nil {
		s.changes.Poke()
	}
	return err
}

func (s *pokingStore) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	rev, err := s.Store.AppendEvent(ctx, e)
	if err == nil {
		s.changes.Poke()
		s.remote()
	}
	return rev, err
}
