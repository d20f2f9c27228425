// Package deploy holds the reconciler that makes the runtime run what the
// store says: for each app, the workloads of its target release, rolled out
// with the release's strategy, and the app's observed status written back.
//
// Reconcile is level-based: it reads the app record, its releases and the
// runtime's workloads, and acts on the difference. It keeps no state
// between passes that matters for correctness, so running it twice, or after
// a restart, is safe, and a pass with nothing to do changes nothing.
package deploy

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/svcproxy"
)

// Builder turns a service's source and build command into a directory
// (*build.Builder).
type Builder interface {
	Build(ctx context.Context, req build.Request) (build.Result, error)
}

// Proxy keeps the stable per-service addresses (*svcproxy.Proxy).
type Proxy interface {
	Set(app, service string, port int, endpoints []string) error
	RemoveApp(app string)
}

// Defaults for Options.
const (
	DefaultWorkers           = 4
	DefaultResync            = 10 * time.Second
	DefaultCrashLoopRestarts = 3
	DefaultRequeue           = 500 * time.Millisecond
	DefaultDrainDelay        = time.Second
)

// Options configures a Reconciler. Store, Runtime, Builder and Proxy are
// required.
type Options struct {
	Store   store.Store
	Runtime runtime.Runtime
	Builder Builder
	Proxy   Proxy
	Logger  *slog.Logger
	Now     func() time.Time
	// Workers is how many apps are reconciled at once.
	Workers int
	// Resync is how often every app is reconciled without a trigger, to
	// repair drift the runtime did not report.
	Resync time.Duration
	// CrashLoopRestarts is how many restarts without becoming ready mark a
	// new release's instance as crash-looping (the release fails).
	CrashLoopRestarts int
	// Requeue is how soon an app in progress is looked at again.
	Requeue time.Duration
	// VolumeDir, when set, holds volumes as <VolumeDir>/<app>/<service>/<volume>;
	// they outlive releases. "" leaves the place to the runtime.
	VolumeDir string
	// AllocPort returns a free local port for a service's stable address
	// (default svcproxy.FreePort).
	AllocPort func() (int, error)
	// Secrets hands out the values of the secrets a service names and masks
	// them in what the reconciler shows of instances (internal/secretstore).
	// nil: a release whose services name secrets fails with SecretMissing.
	Secrets Secrets
	// DrainDelay is how long ready instances are out of the rotation
	// before they are stopped (see drain.go); 0 means the default,
	// negative stops them in the same pass.
	DrainDelay time.Duration
}

// Result tells the caller when to look at the app again.
type Result struct {
	// RequeueAfter > 0 asks for another pass after that long.
	RequeueAfter time.Duration
}

// Reconciler converges apps. Create it with New.
type Reconciler struct {
	opts  Options
	store store.Store
	rt    runtime.Runtime
	log   *slog.Logger
	queue *queue

	// locks keeps Reconcile calls for one app from overlapping (workers
	// never do; direct callers might).
	locks sync.Map // app -> *sync.Mutex

	// maskers caches, per app, the masker of its secret values (secrets.go).
	maskers sync.Map // app -> *secrets.Masker
	// maskersMu orders building a masker with dropping it: a masker built
	// from values read before a secret changed must not be stored after
	// the drop that follows the change.
	maskersMu sync.Mutex

	// applyErrs remembers the last refusal of a workload by the runtime, by
	// workload ID, so a deadline failure can say why instances never came.
	applyErrs sync.Map // workload ID -> string

	// watched remembers when this process first saw each app's rollout
	// (see rolloutStart).
	watched sync.Map // app -> watchedRollout

	// buildSlots bounds how many passes build at once (see building.go);
	// building holds a poke channel per app with a build running.
	buildSlots chan struct{}
	building   sync.Map // app -> chan struct{}

	// drains holds, per app, when each held stop step was first planned.
	drains sync.Map // app -> map[string]time.Time
}

// New returns a Reconciler; call Run to start its workers.
func New(opts Options) *Reconciler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Resync <= 0 {
		opts.Resync = DefaultResync
	}
	if opts.CrashLoopRestarts <= 0 {
		opts.CrashLoopRestarts = DefaultCrashLoopRestarts
	}
	if opts.Requeue <= 0 {
		opts.Requeue = DefaultRequeue
	}
	if opts.DrainDelay == 0 {
		opts.DrainDelay = DefaultDrainDelay
	}
	if opts.AllocPort == nil {
		opts.AllocPort = svcproxy.FreePort
	}
	return &Reconciler{
		opts:  opts,
		store: opts.Store,
		rt:    opts.Runtime,
		log:   opts.Logger,
		queue: newQueue(),

		buildSlots: newBuildSlots(opts.Workers),
	}
}

func (r *Reconciler) now() time.Time { return r.opts.Now().UTC() }

func (r *Reconciler) lock(app string) func() {
	m, _ := r.locks.LoadOrStore(app, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}
