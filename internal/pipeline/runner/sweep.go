package runner

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/store"
)

// DefaultSweepEvery is how often the run driver looks for pipeline
// objects on clusters that no live run owns. A pass is three list calls
// per environment, so it may be frequent; leftovers cost little while
// they wait (a pod that ended, a claim), so it need not be.
const DefaultSweepEvery = 10 * time.Minute

// sweepTimeout bounds one environment's sweep: a cluster that does not
// answer must not hold up the others (what is left waits for the next
// pass).
const sweepTimeout = time.Minute

// ClusterSweeper is an optional ability of a ClusterExecutor
// (*kube.Executor has it): removing the pipeline objects in its
// namespace whose run is not live. live gives the IDs of the runs that
// may own objects; the sweeper asks it only after listing, so a run that
// starts during the sweep is never taken for a leftover. It returns how
// many objects of each kind it removed.
type ClusterSweeper interface {
	Sweep(ctx context.Context, live func(context.Context) ([]string, error)) (map[string]int, error)
}

// sweeper is the runner's state for sweeps: the environments this
// process ran steps on (a pipeline may have moved to another environment
// since), those whose last sweep failed (warned once, not every pass),
// and what was removed, by kind, for the server's metrics.
type sweeper struct {
	mu      sync.Mutex
	used    map[string]bool
	failed  map[string]bool
	removed map[string]int64 // by kind
}

// usedEnv remembers that runs of this process ran steps on env.
func (r *Runner) usedEnv(env string) {
	r.sweep.mu.Lock()
	defer r.sweep.mu.Unlock()
	if r.sweep.used == nil {
		r.sweep.used = map[string]bool{}
	}
	r.sweep.used[env] = true
}

// Removed is how many pipeline objects of kind (pod, secret,
// persistentvolumeclaim) sweeps removed since the server started.
func (r *Runner) Removed(kind string) int64 {
	r.sweep.mu.Lock()
	defer r.sweep.mu.Unlock()
	return r.sweep.removed[kind]
}

// sweepLoop sweeps every cluster environment at once (Run calls it after
// recovery settled the runs a dead server left), then those pipelines
// name or this process used every SweepEvery until ctx ends.
func (r *Runner) sweepLoop(ctx context.Context) {
	if r.opts.Clusters == nil {
		return
	}
	t := time.NewTicker(r.opts.SweepEvery)
	defer t.Stop()
	every := true
	for {
		r.SweepClusters(ctx, every)
		every = false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SweepClusters removes, on every cluster environment that pipelines
// name or that runs of this process used (with every, on all cluster
// environments), the pods, Secrets and workspace claims of runs that are
// not live: finished, failed by recovery, or unknown to the store. Only
// the leader's runner calls it (Run is started under leadership), and the
// runs it drives are exactly the live ones, so it never removes what a
// running step needs.
//
// every is for the first sweep of a term: a dead server's runs may have
// used an environment no stored pipeline names — a pull request's
// pipeline file is never stored, nor is one a later run replaced — and
// this process has not used it yet. Failures in an environment pipelines
// name or used are warned about once until a sweep there succeeds again;
// in the others (they may never have held a pipeline object, and their
// account may rightly lack the rights) they are only debug lines.
func (r *Runner) SweepClusters(ctx context.Context, every bool) {
	if r.opts.Clusters == nil {
		return
	}
	envs := r.sweepEnvs(ctx, every)
	for _, name := range slices.Sorted(maps.Keys(envs)) {
		if ctx.Err() != nil {
			return
		}
		removed, err := r.sweepEnv(ctx, name)
		r.sweepResult(ctx, name, envs[name], removed, err)
	}
}

// errGone is an environment that no longer exists or left its cluster:
// nothing to sweep, nothing to warn about.
var errGone = errors.New("environment gone")

// sweepEnv sweeps one environment's namespace.
func (r *Runner) sweepEnv(ctx context.Context, name string) (map[string]int, error) {
	cctx, done := context.WithTimeout(ctx, sweepTimeout)
	defer done()
	e, err := r.st.GetEnvironment(cctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && e.Cluster == ""):
		return nil, errGone
	case err != nil:
		return nil, err
	}
	x, err := r.opts.Clusters.ForEnvironment(cctx, e)
	if err != nil {
		return nil, err
	}
	sw, ok := x.(ClusterSweeper)
	if !ok {
		return nil, nil
	}
	return sw.Sweep(cctx, r.liveRuns)
}

// sweepResult counts and logs one environment's sweep; known says
// pipelines name it or used it.
func (r *Runner) sweepResult(ctx context.Context, env string, known bool, removed map[string]int, err error) {
	r.sweep.mu.Lock()
	total := 0
	for kind, n := range removed {
		if r.sweep.removed == nil {
			r.sweep.removed = map[string]int64{}
		}
		r.sweep.removed[kind] += int64(n)
		total += n
	}
	warned := r.sweep.failed[env]
	switch {
	case errors.Is(err, errGone):
		delete(r.sweep.used, env)
		delete(r.sweep.failed, env)
	case err != nil && !known:
	case err != nil:
		if r.sweep.failed == nil {
			r.sweep.failed = map[string]bool{}
		}
		r.sweep.failed[env] = true
	default:
		delete(r.sweep.failed, env)
	}
	r.sweep.mu.Unlock()
	if total > 0 {
		r.log.InfoContext(ctx, "removed pipeline objects of runs that are not running", "env", env, "removed", removed)
	}
	switch {
	case errors.Is(err, errGone) || ctx.Err() != nil:
	case err != nil && !known:
		r.log.DebugContext(ctx, "pipeline leftovers on a cluster no pipeline names cannot be looked for", "env", env, "err", err)
	case err != nil && !warned:
		r.log.WarnContext(ctx, "pipeline leftovers on a cluster cannot be removed; said once until it works again", "env", env, "err", err)
	case err != nil:
		r.log.DebugContext(ctx, "pipeline leftovers on a cluster still cannot be removed", "env", env, "err", err)
	case warned:
		r.log.InfoContext(ctx, "pipeline leftovers on a cluster can be removed again", "env", env)
	}
}

// sweepEnvs are the environments to sweep, each true when it is known to
// pipelines: those the stored pipelines name (executor.env) and those
// runs of this process used; with every, the other cluster environments
// too (false).
func (r *Runner) sweepEnvs(ctx context.Context, every bool) map[string]bool {
	envs := map[string]bool{}
	if every {
		all, err := r.st.ListEnvironments(ctx)
		if err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "sweep: listing environments failed", "err", err)
		}
		for _, e := range all {
			if e.Cluster != "" {
				envs[e.Name] = false
			}
		}
	}
	r.sweep.mu.Lock()
	maps.Copy(envs, r.sweep.used)
	r.sweep.mu.Unlock()
	ps, err := r.st.ListPipelines(ctx)
	if err != nil && ctx.Err() == nil {
		r.log.WarnContext(ctx, "sweep: listing pipelines failed", "err", err)
	}
	for _, ps := range ps {
		var p pipeline.Pipeline
		if json.Unmarshal(ps.Definition, &p) == nil && p.ClusterEnv() != "" {
			envs[p.ClusterEnv()] = true
		}
	}
	return envs
}

// liveRuns are the runs that may own objects on a cluster: those this
// process drives, and those the store does not show ended (a run another
// server left running that recovery could not settle is kept, not
// guessed about). The store is read first: a run that ends in between is
// still in r.active until its own cleanup is done.
func (r *Runner) liveRuns(ctx context.Context) ([]string, error) {
	runs, err := r.st.ListRuns(ctx, store.RunFilter{States: []string{store.RunQueued, store.RunRunning}})
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(runs))
	for _, run := range runs {
		ids = append(ids, run.ID)
	}
	r.mu.Lock()
	for id := range r.active {
		ids = append(ids, id)
	}
	r.mu.Unlock()
	return ids, nil
}
