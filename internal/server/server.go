package server

import (
	"context"
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

	"github.com/berthdev/berth/internal/api"
	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/deploy"
	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/internal/svcproxy"
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

	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "berth.db"))
	if err != nil {
		return fmt.Errorf("server: open store: %w", err)
	}
	defer func() { _ = db.Close() }()
	changes := api.NewBroadcaster()
	st := &pokingStore{Store: db, changes: changes}

	if _, err := api.EnsureAdminToken(ctx, st, cfg.DataDir, time.Now().UTC(), logger); err != nil {
		return fmt.Errorf("server: admin token: %w", err)
	}
	blobs, err := blob.New(filepath.Join(cfg.DataDir, "blobs"))
	if err != nil {
		return err
	}
	builder, err := build.New(filepath.Join(cfg.DataDir, "builds"), blobs, logger)
	if err != nil {
		return fmt.Errorf("server: builder: %w", err)
	}
	rt, err := local.New(ctx, local.Options{
		Dir:         filepath.Join(cfg.DataDir, "runtime"),
		ShimCommand: cfg.ShimCommand,
		ShimEnv:     cfg.ShimEnv,
		Logger:      logger,
	})
	if err != nil {
		return fmt.Errorf("server: local runtime: %w", err)
	}
	defer func() { _ = rt.Close() }()
	proxy := svcproxy.New(logger)
	defer func() { _ = proxy.Close() }()
	rec := deploy.New(deploy.Options{
		Store:     st,
		Runtime:   rt,
		Builder:   builder,
		Proxy:     proxy,
		Logger:    logger,
		VolumeDir: filepath.Join(cfg.DataDir, "volumes"),
	})

	handler := api.New(api.Deps{
		Store:   st,
		Blobs:   blobs,
		Notify:  rec.Notify,
		Logs:    rec,
		Logger:  logger,
		Version: versionInfo(cfg.Version),
		Changes: changes,
	})

	apiLn, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w (is another berth server running?)", cfg.Listen, err)
	}
	var gwLn net.Listener
	if cfg.GatewayListen != "" {
		if gwLn, err = net.Listen("tcp", cfg.GatewayListen); err != nil {
			apiLn.Close()
			return fmt.Errorf("server: gateway listen on %s: %w", cfg.GatewayListen, err)
		}
	}

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := rec.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errc <- fmt.Errorf("reconciler: %w", err)
		}
	}()

	servers := []*http.Server{newHTTPServer(handler, logger)}
	listeners := []net.Listener{apiLn}
	if gwLn != nil {
		gw := gateway.New(logger)
		feed := &routeFeed{st: st, gw: gw, log: logger, wake: changes.Subscribe(ctx), tick: time.Second}
		wg.Add(1)
		go func() { defer wg.Done(); feed.run(ctx) }()
		servers = append(servers, newHTTPServer(gw, logger))
		listeners = append(listeners, gwLn)
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
		"gateway", addrOrOff(gwLn),
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

func addrOrOff(ln net.Listener) string {
	if ln == nil {
		return "off"
	}
	return "http://" + ln.Addr().String()
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
}

func (s *pokingStore) InTx(ctx context.Context, fn func(tx store.Tx) error) error {
	err := s.Store.InTx(ctx, fn)
	if err == nil {
		s.changes.Poke()
	}
	return err
}

func (s *pokingStore) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	rev, err := s.Store.AppendEvent(ctx, e)
	if err == nil {
		s.changes.Poke()
	}
	return rev, err
}
