package deploy

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/store"
)

// fakeRuntime is an in-memory runtime.Runtime whose instances become ready
// only when the test says so (or at once with autoReady).
type fakeRuntime struct {
	mu        sync.Mutex
	wls       map[string]*fakeWorkload
	calls     []string // mutating calls, in order
	applied   map[string]runtime.Workload
	autoReady bool
	// slowDelete keeps deleted workloads listed (stopping) until
	// finishDeletes, like a runtime that stops instances in the background.
	slowDelete bool
	applyErr   map[string]error
	logs       map[string]string
	nextPort   int
	watchers   []chan runtime.Event
}

type fakeWorkload struct {
	w        runtime.Workload
	insts    []runtime.Instance
	deleting bool
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{
		wls:      map[string]*fakeWorkload{},
		applied:  map[string]runtime.Workload{},
		applyErr: map[string]error{},
		logs:     map[string]string{},
		nextPort: 20000,
	}
}

func (f *fakeRuntime) Apply(ctx context.Context, w runtime.Workload) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("apply %s x%d", w.ID, w.Replicas))
	if err := f.applyErr[w.ID]; err != nil {
		return err
	}
	f.applied[w.ID] = w
	fw := f.wls[w.ID]
	if fw == nil || fw.deleting {
		fw = &fakeWorkload{}
		f.wls[w.ID] = fw
	}
	fw.w = w
	var keep []runtime.Instance
	for _, in := range fw.insts {
		if in.Index < w.Replicas {
			keep = append(keep, in)
		}
	}
	for i := len(keep); i < w.Replicas; i++ {
		f.nextPort++
		keep = append(keep, runtime.Instance{
			ID: fmt.Sprintf("%s-%d", w.ID, i), Index: i, State: runtime.StateStarting,
			Host: "127.0.0.1", Port: f.nextPort, StartedAt: time.Unix(1700000000, 0),
		})
	}
	fw.insts = keep
	if f.autoReady {
		for i := range fw.insts {
			fw.insts[i].Ready, fw.insts[i].State = true, runtime.StateRunning
		}
	}
	f.notify(w.App, w.ID)
	return nil
}

func (f *fakeRuntime) Delete(ctx context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete "+id)
	fw := f.wls[id]
	if fw == nil {
		return nil
	}
	if f.slowDelete {
		fw.deleting = true
		for i := range fw.insts {
			fw.insts[i].Ready, fw.insts[i].State = false, runtime.StateStopping
		}
	} else {
		delete(f.wls, id)
	}
	f.notify(fw.w.App, id)
	return nil
}

func (f *fakeRuntime) status(fw *fakeWorkload) runtime.WorkloadStatus {
	st := runtime.WorkloadStatus{
		ID: fw.w.ID, App: fw.w.App, Service: fw.w.Service, Release: fw.w.Release,
		Replicas: fw.w.Replicas, Limits: "enforced", Env: fw.w.Env,
		Instances: append([]runtime.Instance(nil), fw.insts...),
	}
	if fw.deleting {
		st.Replicas = 0
	}
	for _, in := range fw.insts {
		if in.Ready {
			st.Ready++
		}
	}
	return st
}

func (f *fakeRuntime) Status(ctx context.Context, id string) (runtime.WorkloadStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fw := f.wls[id]
	if fw == nil {
		return runtime.WorkloadStatus{}, runtime.ErrNotFound
	}
	return f.status(fw), nil
}

func (f *fakeRuntime) List(ctx context.Context, app string) ([]runtime.WorkloadStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.WorkloadStatus
	for _, fw := range f.wls {
		if app == "" || fw.w.App == app {
			out = append(out, f.status(fw))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

func (f *fakeRuntime) Watch(ctx context.Context) (<-chan runtime.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan runtime.Event, 100)
	f.watchers = append(f.watchers, ch)
	return ch, nil
}

// notify sends a hint to watchers without blocking (callers hold f.mu).
func (f *fakeRuntime) notify(app, id string) {
	for _, ch := range f.watchers {
		select {
		case ch <- runtime.Event{Type: runtime.EventChanged, WorkloadID: id, App: app}:
		default:
		}
	}
}

func (f *fakeRuntime) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wls[id] == nil {
		return nil, runtime.ErrNotFound
	}
	return io.NopCloser(strings.NewReader(f.logs[id])), nil
}

// takeCalls returns and clears the mutating calls made so far.
func (f *fakeRuntime) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

// setReady makes the first n instances of id ready and the rest not.
func (f *fakeRuntime) setReady(id string, n int) {
	f.edit(id, func(i int, in *runtime.Instance) {
		in.Ready = i < n
		in.State = runtime.StateStarting
		if in.Ready {
			in.State = runtime.StateRunning
		}
	})
}

// readyAll makes every instance of every workload ready.
func (f *fakeRuntime) readyAll() {
	f.mu.Lock()
	var ids []string
	for id, fw := range f.wls {
		if !fw.deleting {
			ids = append(ids, id)
		}
	}
	f.mu.Unlock()
	for _, id := range ids {
		f.setReady(id, 1<<30)
	}
}

func (f *fakeRuntime) edit(id string, fn func(i int, in *runtime.Instance)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fw := f.wls[id]
	if fw == nil {
		return
	}
	for i := range fw.insts {
		fn(i, &fw.insts[i])
	}
	f.notify(fw.w.App, id)
}

func (f *fakeRuntime) finishDeletes() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, fw := range f.wls {
		if fw.deleting {
			delete(f.wls, id)
		}
	}
}

// replicas returns id's replica count, -1 if the runtime does not have it.
func (f *fakeRuntime) replicas(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fw := f.wls[id]; fw != nil && !fw.deleting {
		return fw.w.Replicas
	}
	return -1
}

// fakeBuilder returns a directory per service without running anything.
type fakeBuilder struct {
	mu   sync.Mutex
	reqs []build.Request
	fail map[string]error // by service
	// gate, by app, holds builds until it is closed or their ctx ends
	// (then they fail as the real builder does); entered hears of each
	// build that starts waiting.
	gate    map[string]chan struct{}
	entered chan string
	// done runs at the end of every successful build.
	done func(req build.Request)
}

func (b *fakeBuilder) Build(ctx context.Context, req build.Request) (build.Result, error) {
	b.mu.Lock()
	gate, entered := b.gate[req.App], b.entered
	b.mu.Unlock()
	if gate != nil {
		if entered != nil {
			entered <- req.App
		}
		select {
		case <-gate:
		case <-ctx.Done():
			return build.Result{}, fmt.Errorf("build: %w", ctx.Err())
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	if err := b.fail[req.Service]; err != nil {
		return build.Result{}, err
	}
	if b.done != nil {
		b.done(req)
	}
	key := build.Key(req.Source, req.Dir, req.Command)
	return build.Result{Key: key, Dir: "/builds/" + key[:8] + "/" + req.Service}, nil
}

func (b *fakeBuilder) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.reqs)
}

// fakeProxy records the endpoints of each service.
type fakeProxy struct {
	mu      sync.Mutex
	eps     map[string][]string // "app/service" -> endpoints
	ports   map[string]int
	removed []string
	taken   map[int]bool // ports another process holds
}

func newFakeProxy() *fakeProxy {
	return &fakeProxy{eps: map[string][]string{}, ports: map[string]int{}, taken: map[int]bool{}}
}

func (p *fakeProxy) Set(app, svc string, port int, endpoints []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.taken[port] {
		// What svcproxy returns when net.Listen finds the port in use.
		err := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
		return fmt.Errorf("svcproxy: %s/%s: listen on port %d: %w", app, svc, port, err)
	}
	p.eps[app+"/"+svc] = endpoints
	p.ports[app+"/"+svc] = port
	return nil
}

func (p *fakeProxy) RemoveApp(app string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.removed = append(p.removed, app)
	for k := range p.eps {
		if strings.HasPrefix(k, app+"/") {
			delete(p.eps, k)
		}
	}
}

func (p *fakeProxy) endpoints(app, svc string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.eps[app+"/"+svc]
}

// countingStore counts every write, in or out of transactions.
type countingStore struct {
	store.Store
	writes atomic.Int64
}

func (c *countingStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	return c.Store.InTx(ctx, func(tx store.Tx) error { return fn(countingTx{Tx: tx, n: &c.writes}) })
}
func (c *countingStore) CreateApp(ctx context.Context, a store.App) error {
	c.writes.Add(1)
	return c.Store.CreateApp(ctx, a)
}
func (c *countingStore) UpdateApp(ctx context.Context, a store.App) (int64, error) {
	c.writes.Add(1)
	return c.Store.UpdateApp(ctx, a)
}
func (c *countingStore) DeleteApp(ctx context.Context, name string) error {
	c.writes.Add(1)
	return c.Store.DeleteApp(ctx, name)
}
func (c *countingStore) CreateRelease(ctx context.Context, r store.Release) error {
	c.writes.Add(1)
	return c.Store.CreateRelease(ctx, r)
}
func (c *countingStore) UpdateRelease(ctx context.Context, r store.Release) (int64, error) {
	c.writes.Add(1)
	return c.Store.UpdateRelease(ctx, r)
}
func (c *countingStore) DeleteReleases(ctx context.Context, app string) error {
	c.writes.Add(1)
	return c.Store.DeleteReleases(ctx, app)
}
func (c *countingStore) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	c.writes.Add(1)
	return c.Store.AppendEvent(ctx, e)
}

type countingTx struct {
	store.Tx
	n *atomic.Int64
}

func (c countingTx) UpdateApp(ctx context.Context, a store.App) (int64, error) {
	c.n.Add(1)
	return c.Tx.UpdateApp(ctx, a)
}
func (c countingTx) DeleteApp(ctx context.Context, name string) error {
	c.n.Add(1)
	return c.Tx.DeleteApp(ctx, name)
}
func (c countingTx) UpdateRelease(ctx context.Context, r store.Release) (int64, error) {
	c.n.Add(1)
	return c.Tx.UpdateRelease(ctx, r)
}
func (c countingTx) DeleteReleases(ctx context.Context, app string) error {
	c.n.Add(1)
	return c.Tx.DeleteReleases(ctx, app)
}
func (c countingTx) AppendEvent(ctx context.Context, e store.Event) (int64, error) {
	c.n.Add(1)
	return c.Tx.AppendEvent(ctx, e)
}
