package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/deploy"
	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/retention"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/envroute"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/svcproxy"
)

// errNotLeading answers what only the leader can (an app's logs come from
// the runtime only the leader opens).
var errNotLeading = fmt.Errorf("%w: this server is not the leader; ask the leader", leader.ErrNotLeader)

// leaderWork is the work only the leader does: the local runtime (its
// supervising loop and its folder), the environments' cluster runtimes
// (drift repair), the service proxy's ports, the reconciler (rollouts,
// canary step timers) and the pipeline run driver (dispatch, cron). It is
// built afresh for each term and torn down, waited for, when the term
// ends: a reconciler's queue and a runtime's folder lock belong to one
// term.
type leaderWork struct {
	cfg     Config
	st      store.Store
	secrets *secretstore.Store
	builder *build.Builder
	pipes   *pipelines
	// retention expires artifacts and deletes unreferenced blobs.
	retention *retention.Sweeper
	log       *slog.Logger
	// routing keeps environments' gateways (or HTTPRoutes) on their
	// clusters until ctx ends.
	routing func(ctx context.Context)

	// rec is the current term's reconciler, nil between terms.
	rec atomic.Pointer[deploy.Reconciler]
	// errc receives a failure that must stop the server.
	errc chan<- error
}

// Notify queues app on this server's reconciler, if it leads. Other
// servers' reconcilers are woken through the store's notifications.
func (w *leaderWork) Notify(app string) {
	if rec := w.rec.Load(); rec != nil {
		rec.Notify(app)
	}
}

// Logs serves an app's logs from the leader's runtime.
func (w *leaderWork) Logs(ctx context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	rec := w.rec.Load()
	if rec == nil {
		return nil, errNotLeading
	}
	return rec.Logs(ctx, app, service, opts)
}

// lead runs one term's work until ctx ends.
func (w *leaderWork) lead(ctx context.Context, t leader.Term) {
	ctx = leader.WithTerm(ctx, t)
	log := w.log.With("epoch", t.Epoch())
	rt, err := w.openLocal(ctx)
	if err != nil {
		return // the term ended before the runtime could be opened
	}
	defer func() { _ = rt.Close() }()
	router := envroute.New(rt, appEnv(w.st), openEnv(w.st, w.cfg.clusterAccess(w.secrets), log))
	defer func() { _ = router.Close() }()
	proxy := svcproxy.New(log)
	defer func() { _ = proxy.Close() }()
	rec := deploy.New(deploy.Options{
		Store:     w.st,
		Runtime:   guardedRuntime{Runtime: router},
		Builder:   w.builder,
		Proxy:     proxy,
		Logger:    log,
		VolumeDir: filepath.Join(w.cfg.DataDir, "volumes"),
		Secrets:   w.secrets,
	})
	w.rec.Store(rec)
	defer w.rec.Store(nil)

	var wg sync.WaitGroup
	wg.Add(4)
	go func() { defer wg.Done(); w.routing(ctx) }()
	go func() { defer wg.Done(); w.retention.Run(ctx) }()
	go func() {
		defer wg.Done()
		if err := w.pipes.Run(ctx); err != nil && ctx.Err() == nil {
			w.fail(fmt.Errorf("pipelines: %w", err))
		}
	}()
	go func() {
		defer wg.Done()
		if err := rec.Run(ctx); err != nil && ctx.Err() == nil {
			w.fail(fmt.Errorf("reconciler: %w", err))
		}
	}()
	wg.Wait()
}

func (w *leaderWork) fail(err error) {
	select {
	case w.errc <- err:
	default:
	}
}

// openLocal opens the local runtime, retrying while its folder is locked:
// a previous leader that is paused (not dead) still holds the lock, and
// until it notices it lost the lease and lets go, nobody else may
// supervise those instances. The folder lock is the local runtime's own
// fence.
func (w *leaderWork) openLocal(ctx context.Context) (*local.Runtime, error) {
	for {
		rt, err := local.New(ctx, local.Options{
			Dir:         filepath.Join(w.cfg.DataDir, "runtime"),
			ShimCommand: w.cfg.ShimCommand,
			ShimEnv:     w.cfg.ShimEnv,
			Logger:      w.log,
		})
		if err == nil {
			return rt, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, local.ErrInUse) {
			w.fail(fmt.Errorf("server: local runtime: %w", err))
			return nil, err
		}
		w.log.Warn("local runtime folder is still held by the previous leader; waiting", "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
