package deploy

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Notify asks for app to be reconciled soon. Calls for an app already
// waiting are merged.
func (r *Reconciler) Notify(app string) {
	if app != "" {
		r.queue.add(app)
		r.pokeBuild(app)
	}
}

// Run reconciles apps until ctx ends: workers take notified apps, runtime
// events notify their app, and every app is notified each Resync. It
// returns once every goroutine it started has stopped. Run may be called
// once.
func (r *Reconciler) Run(ctx context.Context) error {
	events, err := r.rt.Watch(ctx)
	if err != nil {
		return fmt.Errorf("deploy: watch runtime: %w", err)
	}
	var wg sync.WaitGroup
	for range r.opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.work(ctx)
		}()
	}
	defer func() {
		r.queue.stop()
		wg.Wait()
	}()

	r.resync(ctx)
	tick := time.NewTicker(r.opts.Resync)
	defer tick.Stop()
	var rewatch <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				// The runtime ended the watch early; resync covers the gap
				// until it is back.
				r.log.Warn("runtime watch ended; watching again shortly")
				events = nil
				rewatch = time.After(time.Second)
				continue
			}
			r.Notify(ev.App)
		case <-rewatch:
			rewatch = nil
			if events, err = r.rt.Watch(ctx); err != nil {
				r.log.Warn("runtime watch failed", "err", err)
				events = nil
				rewatch = time.After(5 * time.Second)
			}
		case <-tick.C:
			r.resync(ctx)
		}
	}
}

// resync notifies every app in the store, and every app the runtime runs
// workloads for (so workloads of apps deleted from the store are removed).
func (r *Reconciler) resync(ctx context.Context) {
	apps, err := r.store.ListApps(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("resync: list apps", "err", err)
		}
		return
	}
	for _, a := range apps {
		r.Notify(a.Name)
	}
	wls, err := r.rt.List(ctx, "")
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("resync: list workloads", "err", err)
		}
		return
	}
	for _, w := range wls {
		r.Notify(w.App)
	}
}

func (r *Reconciler) work(ctx context.Context) {
	for {
		app, ok := r.queue.get()
		if !ok {
			return
		}
		res, err := r.Reconcile(ctx, app)
		switch {
		case err != nil && ctx.Err() == nil:
			d := r.queue.backoff(app)
			r.log.Warn("reconcile failed", "app", app, "err", err, "retry_in", d)
			r.queue.addAfter(app, d)
		case err == nil:
			r.queue.forget(app)
			if res.RequeueAfter > 0 {
				r.queue.addAfter(app, res.RequeueAfter)
			}
		}
		r.queue.done(app)
	}
}

// isCanceled reports whether err comes from ctx ending (shutdown), which is
// never a reason to mark anything failed.
func isCanceled(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
