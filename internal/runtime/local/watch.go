package local

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"sync"

	"github.com/berthdev/berth/internal/runtime"
)

// watchHub turns periodic snapshots of every workload's status into events
// and fans them out to watchers. A slow watcher never holds up the others
// or the poll loop: its undelivered events are coalesced, one per workload
// (events are hints; watchers call Status for the state).
type watchHub struct {
	mu       sync.Mutex
	last     map[string]watchEntry // by workload ID
	watchers map[*watcher]struct{}
}

type watchEntry struct {
	app  string
	hash [32]byte
}

type watcher struct {
	mu      sync.Mutex
	pending []runtime.Event // at most one per workload
	wake    chan struct{}   // 1-buffered
}

func (h *watchHub) init() {
	h.last = map[string]watchEntry{}
	h.watchers = map[*watcher]struct{}{}
}

func hashStatus(ws runtime.WorkloadStatus) [32]byte {
	b, _ := json.Marshal(ws)
	return sha256.Sum256(b)
}

// baseline records the state without sending events.
func (h *watchHub) baseline(snap map[string]runtime.WorkloadStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, ws := range snap {
		h.last[id] = watchEntry{app: ws.App, hash: hashStatus(ws)}
	}
}

// publish compares snap with the previous snapshot and tells every watcher
// what changed. A nil snap (the state could not be read) changes nothing.
func (h *watchHub) publish(snap map[string]runtime.WorkloadStatus) {
	if snap == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var events []runtime.Event
	for id, ws := range snap {
		e := watchEntry{app: ws.App, hash: hashStatus(ws)}
		if old, ok := h.last[id]; !ok || old.hash != e.hash {
			events = append(events, runtime.Event{Type: runtime.EventChanged, WorkloadID: id, App: ws.App})
		}
		h.last[id] = e
	}
	for id, old := range h.last {
		if _, ok := snap[id]; !ok {
			events = append(events, runtime.Event{Type: runtime.EventDeleted, WorkloadID: id, App: old.app})
			delete(h.last, id)
		}
	}
	if len(events) == 0 {
		return
	}
	for w := range h.watchers {
		w.push(events)
	}
}

func (w *watcher) push(events []runtime.Event) {
	w.mu.Lock()
	for _, e := range events {
		replaced := false
		for i := range w.pending {
			if w.pending[i].WorkloadID == e.WorkloadID {
				w.pending[i], replaced = e, true
				break
			}
		}
		if !replaced {
			w.pending = append(w.pending, e)
		}
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *watcher) pop() (runtime.Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return runtime.Event{}, false
	}
	e := w.pending[0]
	w.pending = w.pending[1:]
	return e, true
}

// Watch sends an Event whenever a workload's status changes (an instance
// changes state, readiness, PID, restarts or message) or it is deleted,
// until ctx ends or the runtime closes; then the channel is closed.
// Changes are noticed by polling the state files every PollInterval.
func (r *Runtime) Watch(ctx context.Context) (<-chan runtime.Event, error) {
	if r.closed() {
		return nil, ErrClosed
	}
	w := &watcher{wake: make(chan struct{}, 1)}
	r.watch.mu.Lock()
	r.watch.watchers[w] = struct{}{}
	r.watch.mu.Unlock()

	out := make(chan runtime.Event)
	started := r.spawn(func() {
		defer close(out)
		defer func() {
			r.watch.mu.Lock()
			delete(r.watch.watchers, w)
			r.watch.mu.Unlock()
		}()
		for {
			e, ok := w.pop()
			if !ok {
				select {
				case <-w.wake:
					continue
				case <-ctx.Done():
					return
				case <-r.ctx.Done():
					return
				}
			}
			select {
			case out <- e:
			case <-ctx.Done():
				return
			case <-r.ctx.Done():
				return
			}
		}
	})
	if !started {
		r.watch.mu.Lock()
		delete(r.watch.watchers, w)
		r.watch.mu.Unlock()
		return nil, ErrClosed
	}
	return out, nil
}
