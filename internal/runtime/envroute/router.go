package envroute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/berthdev/berth/internal/runtime"
)

// Resolver tells which environment an app runs in: "" for the default
// runtime. An unknown app answers an error wrapping runtime.ErrNotFound.
type Resolver func(ctx context.Context, app string) (string, error)

// Opener opens the runtime of an environment.
type Opener func(ctx context.Context, env string) (runtime.Runtime, error)

// Router implements runtime.Runtime over a default runtime and one
// runtime per environment.
type Router struct {
	def     runtime.Runtime
	resolve Resolver
	open    Opener

	mu      sync.Mutex
	envs    map[string]runtime.Runtime
	opening map[string]*opening // environments being opened
	subs    map[*subscription]struct{}
	ctx     context.Context // ends at Close
	close   context.CancelFunc
}

var _ runtime.Runtime = (*Router)(nil)

// New returns a Router. def serves apps without an environment.
func New(def runtime.Runtime, resolve Resolver, open Opener) *Router {
	ctx, cancel := context.WithCancel(context.Background())
	return &Router{def: def, resolve: resolve, open: open,
		envs: map[string]runtime.Runtime{}, opening: map[string]*opening{}, subs: map[*subscription]struct{}{}, ctx: ctx, close: cancel}
}

// forApp is the runtime of app's environment, opened if need be.
func (r *Router) forApp(ctx context.Context, app string) (runtime.Runtime, string, error) {
	env, err := r.resolve(ctx, app)
	if err != nil {
		return nil, "", fmt.Errorf("app %s: which environment: %w", app, err)
	}
	if env == "" {
		return r.def, "", nil
	}
	rt, err := r.env(ctx, env)
	return rt, env, err
}

// opening is one attempt to open an environment; callers for the same
// environment wait for it instead of connecting twice.
type opening struct {
	done chan struct{}
	rt   runtime.Runtime
	err  error
}

// env is the environment's runtime, opened if need be. Opening waits for
// the cluster (up to its timeouts), so it happens outside the lock: an
// unreachable cluster stalls only the apps of its environments, never the
// local ones. A failed open is not kept: the next call tries again.
func (r *Router) env(ctx context.Context, env string) (runtime.Runtime, error) {
	r.mu.Lock()
	if rt, ok := r.envs[env]; ok {
		r.mu.Unlock()
		return rt, nil
	}
	if r.ctx.Err() != nil {
		r.mu.Unlock()
		return nil, errors.New("envroute: closed")
	}
	o, waiting := r.opening[env]
	if !waiting {
		o = &opening{done: make(chan struct{})}
		r.opening[env] = o
	}
	r.mu.Unlock()
	if waiting {
		select {
		case <-o.done:
			return o.rt, o.err
		case <-ctx.Done():
			return nil, fmt.Errorf("environment %s: still opening: %w", env, ctx.Err())
		}
	}

	o.rt, o.err = r.open(ctx, env)
	if o.err != nil {
		o.err = fmt.Errorf("environment %s: %w", env, o.err)
	}
	r.mu.Lock()
	delete(r.opening, env)
	if o.err == nil {
		if r.ctx.Err() != nil { // closed while opening
			if c, ok := o.rt.(runtime.Closer); ok {
				_ = c.Close()
			}
			o.rt, o.err = nil, errors.New("envroute: closed")
		} else {
			r.envs[env] = o.rt
			for s := range r.subs {
				s.follow(o.rt)
			}
		}
	}
	r.mu.Unlock()
	close(o.done)
	return o.rt, o.err
}

// all is the default runtime and every opened one.
func (r *Router) all() []runtime.Runtime {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []runtime.Runtime{r.def}
	for _, name := range slices.Sorted(mapKeys(r.envs)) {
		out = append(out, r.envs[name])
	}
	return out
}

func mapKeys(m map[string]runtime.Runtime) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Apply sends w to its app's runtime.
func (r *Router) Apply(ctx context.Context, w runtime.Workload) error {
	rt, _, err := r.forApp(ctx, w.App)
	if err != nil {
		return err
	}
	return rt.Apply(ctx, w)
}

// Delete deletes the workload wherever it runs (deleting an unknown
// workload is not an error, and the app may be gone already).
func (r *Router) Delete(ctx context.Context, id string) error {
	var errs []error
	for _, rt := range r.all() {
		if err := rt.Delete(ctx, id); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// owner is the runtime that has the workload.
func (r *Router) owner(ctx context.Context, id string) (runtime.Runtime, runtime.WorkloadStatus, error) {
	for _, rt := range r.all() {
		ws, err := rt.Status(ctx, id)
		if err == nil {
			return rt, ws, nil
		}
		if !errors.Is(err, runtime.ErrNotFound) {
			return nil, ws, err
		}
	}
	return nil, runtime.WorkloadStatus{}, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
}

// Status asks the runtimes in turn.
func (r *Router) Status(ctx context.Context, id string) (runtime.WorkloadStatus, error) {
	_, ws, err := r.owner(ctx, id)
	return ws, err
}

// List lists the app's runtime, or every runtime for "" (or an app whose
// record is gone).
func (r *Router) List(ctx context.Context, app string) ([]runtime.WorkloadStatus, error) {
	if app != "" {
		rt, _, err := r.forApp(ctx, app)
		if err == nil {
			return rt.List(ctx, app)
		}
		if !errors.Is(err, runtime.ErrNotFound) {
			return nil, err
		}
	}
	var out []runtime.WorkloadStatus
	for _, rt := range r.all() {
		l, err := rt.List(ctx, app)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	slices.SortFunc(out, func(a, b runtime.WorkloadStatus) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// Logs streams from the runtime that has the workload.
func (r *Router) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	rt, _, err := r.owner(ctx, id)
	if err != nil {
		return nil, err
	}
	return rt.Logs(ctx, id, opts)
}

// Close closes the environments' runtimes (not the default one, which
// the caller owns). Workloads keep running.
func (r *Router) Close() error {
	r.close()
	r.mu.Lock()
	envs := r.envs
	r.envs = map[string]runtime.Runtime{}
	r.mu.Unlock()
	var errs []error
	for _, rt := range envs {
		if c, ok := rt.(runtime.Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
