// Package runner drives pipeline runs inside the server: a queue with
// concurrency limits per pipeline and per team, the steps of each run
// scheduled by package sched and executed by the local executor, logs
// stored and streamed with secrets masked, approvals, the deploy and
// notify steps, webhooks, cron schedules, and recovery after a restart.
//
// The store is the truth: a run is created queued by Start (or a webhook,
// or the schedule), taken by the dispatcher when the limits allow, and
// every change of its state is written before anyone is told. A run the
// server was driving when it stopped is marked failed with that reason on
// the next start; queued runs simply start then. What runs that are not
// live left on clusters is swept by the runner that drives runs (the
// leader's).
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/store"
)

// Defaults for Options.
const (
	DefaultPerPipeline = 2
	DefaultPerTeam     = 8
	// DefaultStepParallelism caps the steps of one run running at once
	// (approval steps, which only wait for people, not counted).
	DefaultStepParallelism = 8
	DefaultTick            = time.Second
	// deliveryKeep is how long webhook delivery IDs are remembered; forges
	// redeliver within hours.
	deliveryKeep = 7 * 24 * time.Hour
)

// Executor runs run-steps in a workspace it prepared; *local.Executor is one.
type Executor interface {
	executor.Executor
	Prepare(ctx context.Context, dir string) (executor.Workspace, error)
}

// Options configure a Runner.
type Options struct {
	Store    store.Store
	Blobs    blob.Store
	Executor Executor
	// Clusters runs the steps of pipelines that name an environment
	// (executor.env); nil fails such runs with a clear reason.
	Clusters ClusterExecutors
	Secrets  SecretResolver
	// Notify wakes the reconciler for an app after the deploy step created
	// a release; nil is allowed.
	Notify func(app string)
	// DataDir is the server's data directory: logs and the webhook key are
	// kept under DataDir/pipelines.
	DataDir string
	// WorkDir holds run workspaces and caches. It must be outside DataDir
	// (steps must not be able to reach the data directory).
	WorkDir string
	Logger  *slog.Logger
	Now     func() time.Time
	// PerPipeline and PerTeam cap the runs running at once of one app and
	// of one team; more wait queued.
	PerPipeline, PerTeam int
	// StepParallelism caps the independent steps of one run running at
	// once; more wait until one ends.
	StepParallelism int
	// AllowPrivateNotify lets notify steps post to loopback, link-local and
	// private addresses (off: a pipeline file must not reach the server's
	// own network).
	AllowPrivateNotify bool
	// KeepWorkspaces leaves each run's workspace on disk after it ends.
	KeepWorkspaces bool
	// Tick is how often the dispatcher looks at the queue and the cron
	// schedules without being woken.
	Tick time.Duration
	// HookBaseURL is the server's public URL, to show webhook addresses.
	HookBaseURL string
	// SweepEvery is how often the pipeline objects of runs that are not
	// live are looked for on clusters (see SweepClusters); default
	// DefaultSweepEvery.
	SweepEvery time.Duration
	// UploadBaseURL is the server's URL as pods reach it (--advertise-url):
	// steps on a cluster send their artifacts there. "" makes artifacts
	// on a cluster fail the step, saying so.
	UploadBaseURL string
	// MaxArtifactBytes caps the content of one step's artifact archive;
	// 0 means DefaultMaxArtifactBytes.
	MaxArtifactBytes int64
	// CacheTTL is how long a pipeline cache no step restored is kept,
	// on either executor (see PruneCaches); 0 means DefaultCacheTTL.
	CacheTTL time.Duration
}

// Runner is the run driver. Start its loop with Run; the other methods are
// safe for concurrent use.
type Runner struct {
	opts    Options
	st      store.Store
	log     *slog.Logger
	logDir  string
	hookKey []byte
	wake    chan struct{}

	mu     sync.Mutex
	active map[string]*activeRun // runs this process drives, by ID
	wg     sync.WaitGroup
	runCtx context.Context // set by Run; runs live under it

	sweep  sweeper
	caches cacheSweep
}

// activeRun is a run in progress in this process.
type activeRun struct {
	app, team string
	cancel    context.CancelCauseFunc
	// decided is poked when someone decides on one of its approval steps.
	decided chan struct{}
	// p is the run's pipeline once read (guarded by Runner.mu): Decide
	// needs its approval steps' rules.
	p *pipeline.Pipeline
}

// New checks the options and prepares the folders.
func New(ctx context.Context, o Options) (*Runner, error) {
	if o.Store == nil || o.Executor == nil || o.DataDir == "" || o.WorkDir == "" {
		return nil, errors.New("runner: Store, Executor, DataDir and WorkDir are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Secrets == nil {
		o.Secrets = NoSecrets{}
	}
	if o.Notify == nil {
		o.Notify = func(string) {}
	}
	if o.PerPipeline <= 0 {
		o.PerPipeline = DefaultPerPipeline
	}
	if o.PerTeam <= 0 {
		o.PerTeam = DefaultPerTeam
	}
	if o.StepParallelism <= 0 {
		o.StepParallelism = DefaultStepParallelism
	}
	if o.Tick <= 0 {
		o.Tick = DefaultTick
	}
	if o.SweepEvery <= 0 {
		o.SweepEvery = DefaultSweepEvery
	}
	if o.MaxArtifactBytes <= 0 {
		o.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	data, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	work, err := filepath.Abs(o.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if rel, err := filepath.Rel(data, work); err == nil && !startsWithDotDot(rel) {
		return nil, fmt.Errorf("runner: the workspace folder %s is inside the data directory %s; steps must not reach it: choose another --pipeline-workdir", work, data)
	}
	o.DataDir, o.WorkDir = data, work
	r := &Runner{
		opts: o, st: o.Store, log: o.Logger,
		logDir: filepath.Join(data, "pipelines", "logs"),
		wake:   make(chan struct{}, 1),
		active: map[string]*activeRun{},
	}
	if err := os.MkdirAll(r.logDir, 0o700); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	// The step user must traverse WorkDir to reach its workspace, but not
	// list it (other runs' folders are there).
	if err := os.MkdirAll(work, 0o711); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if err := os.Chmod(work, 0o711); err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	if r.hookKey, err = loadHookKey(filepath.Join(data, "pipelines", "webhook.key")); err != nil {
		return nil, err
	}
	return r, nil
}

func startsWithDotDot(rel string) bool {
	return rel == ".." || len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator)
}

// Run recovers what a previous server left, then dispatches queued runs
// and fires schedules until ctx ends; beside that it sweeps clusters for
// the objects of runs that are not live (see SweepClusters). It waits for the runs it started to
// stop (their steps are killed when ctx ends) before returning.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	r.runCtx = ctx
	r.mu.Unlock()
	if err := r.recover(ctx); err != nil {
		if ctx.Err() != nil {
			return nil // stopped while starting: nothing was left half-done
		}
		return err
	}
	// Leftovers on clusters are swept beside the dispatcher: a cluster
	// that answers slowly must not hold up the queue.
	var sweeps sync.WaitGroup
	sweeps.Go(func() { r.sweepLoop(ctx) })
	sweeps.Go(func() { r.cacheLoop(ctx) })
	defer sweeps.Wait()
	t := time.NewTicker(r.opts.Tick)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		if err := r.dispatch(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "pipeline dispatch failed", "err", err)
		}
		if err := r.fireSchedules(ctx); err != nil && ctx.Err() == nil {
			r.log.ErrorContext(ctx, "pipeline schedules failed", "err", err)
		}
		if now := r.opts.Now(); now.Sub(lastPrune) > time.Hour {
			lastPrune = now
			if _, err := r.st.PruneDeliveries(ctx, now.Add(-deliveryKeep)); err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "pruning webhook deliveries failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

// poke wakes the dispatcher.
func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// update reads run id, applies fn and writes it, again on a version
// conflict (a cancel request may race the driver's own writes). fn
// returning an error stops without writing.
func (r *Runner) update(ctx context.Context, id string, fn func(*store.Run) error) (store.Run, error) {
	for range 10 {
		run, err := r.st.GetRun(ctx, id)
		if err != nil {
			return store.Run{}, err
		}
		if err := fn(&run); err != nil {
			return run, err
		}
		run.UpdatedAt = r.opts.Now().UTC()
		v, err := r.st.UpdateRun(ctx, run)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return run, err
		}
		run.Version = v
		return run, nil
	}
	return store.Run{}, fmt.Errorf("runner: run %s: gave up after repeated version conflicts: %w", id, store.ErrConflict)
}
