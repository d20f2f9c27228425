package local

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

// Runtime runs workloads as supervised processes on this machine.
type Runtime struct {
	opts   Options
	log    *slog.Logger
	layout layout

	// ctx ends when Close is called; it bounds every goroutine the runtime
	// owns (the poll loop, watchers, waits for stopping shims).
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// lifeMu orders goroutine starts before Close's wait.
	lifeMu   sync.Mutex
	isClosed bool

	// mu serialises changes: Apply, Delete and the periodic healing.
	mu sync.Mutex
	// starts remembers when this runtime last started a shim for an
	// instance folder, so a shim that has not yet taken its lock is not
	// started twice and a shim that keeps dying is restarted with backoff.
	startsMu sync.Mutex
	starts   map[string]shimStart

	node string // this machine's name, for Instance.Node

	// dirLock is held for the runtime's life: one runtime per folder.
	dirLock *os.File

	// stopping holds the trash folders being stopped now (see emptyTrash).
	stoppingMu sync.Mutex
	stopping   map[string]bool

	watch watchHub

	// kick wakes the poll loop early: shims poke the notify socket after
	// each state change (see notify.go).
	kick       chan struct{}
	notifyConn *net.UnixConn
	notifyPath string
}

type shimStart struct {
	at       time.Time
	attempts int
}

var _ runtime.Runtime = (*Runtime)(nil)
var _ runtime.Closer = (*Runtime)(nil)

// New opens the runtime state in opts.Dir and adopts the instances whose
// shims are alive: they keep running untouched. Instances whose shim died
// get a new one, and instances left half-stopped by a previous server are
// stopped. The runtime then watches its instances until Close.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		opts:   opts,
		log:    opts.Logger.With("component", "runtime/local"),
		layout: layout{root: opts.Dir},
		starts: map[string]shimStart{},

		stopping: map[string]bool{},
	}
	closeOnExecInherited()
	r.node, _ = os.Hostname()
	for _, d := range []string{r.layout.workloads(), r.layout.trash()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("local runtime: %w", err)
		}
	}
	if r.dirLock, err = lockDir(opts.Dir); err != nil {
		return nil, err
	}
	// The runtime outlives the ctx of the call that created it; Close ends it.
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.watch.init()
	r.kick = make(chan struct{}, 1)
	// Before any shim starts, so every instance.json names the socket.
	if r.notifyConn = r.listenNotify(); r.notifyConn != nil {
		conn := r.notifyConn
		r.spawn(func() { r.readNotify(conn) })
	}

	r.emptyTrash()
	r.heal(ctx)
	r.watch.baseline(r.snapshot(ctx))

	r.spawn(r.loop)
	return r, nil
}

// Close stops watching and healing, and ends Watch channels and Logs
// streams. It never stops instances: they keep running and the next New
// adopts them. Stops under way are left for the next New to finish.
func (r *Runtime) Close() error {
	r.lifeMu.Lock()
	if r.isClosed {
		// Once only: a second Close would remove the notify socket, and
		// the folder lock may belong to a newer runtime by now.
		r.lifeMu.Unlock()
		return nil
	}
	r.isClosed = true
	r.lifeMu.Unlock()
	r.cancel()
	if r.notifyConn != nil {
		_ = r.notifyConn.Close() // ends readNotify
		_ = os.Remove(r.notifyPath)
	}
	r.wg.Wait()
	if r.dirLock != nil {
		_ = r.dirLock.Close() // releases the folder
	}
	return nil
}

func (r *Runtime) closed() bool { return r.ctx.Err() != nil }

// spawn runs f in a goroutine Close waits for; it reports false (and runs
// nothing) once the runtime is closed.
func (r *Runtime) spawn(f func()) bool {
	r.lifeMu.Lock()
	defer r.lifeMu.Unlock()
	if r.isClosed {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		f()
	}()
	return true
}

// trashRetryPolls is how many polls apart the loop retries stops that
// failed (5s at the default PollInterval).
const trashRetryPolls = 20

// loop heals dead shims and feeds watchers, every PollInterval and
// whenever a shim says its state changed.
func (r *Runtime) loop() {
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	polls := 0
	for {
		select {
		case <-r.ctx.Done():
			return
		case <-t.C:
			if polls++; polls%trashRetryPolls == 0 {
				r.emptyTrash()
			}
		case <-r.kick:
		}
		r.heal(r.ctx)
		r.watch.publish(r.snapshot(r.ctx))
	}
}

// heal reconciles every workload with its workload.json: it restarts dead
// shims, and finishes scale-downs a previous server did not.
func (r *Runtime) heal(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids, err := r.layout.workloadIDs()
	if err != nil {
		r.log.Error("list workloads", "err", err)
		return
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			return
		}
		w, err := r.readWorkload(id)
		if err != nil {
			r.log.Error("read workload", "workload", id, "err", err)
			continue
		}
		if err := r.reconcile(ctx, w, nil); err != nil {
			r.log.Error("heal workload", "workload", id, "err", err)
		}
	}
}

func (r *Runtime) readWorkload(id string) (runtime.Workload, error) {
	var w runtime.Workload
	err := readJSON(r.layout.workload(id)+"/"+fileWorkload, &w)
	return w, err
}
