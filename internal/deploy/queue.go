package deploy

import (
	"sync"
	"time"
)

// queue hands app names to workers. A name is queued at most once, is held
// by at most one worker at a time, and a name notified while a worker holds
// it is queued again when the worker is done, so no change is missed and no
// two workers reconcile the same app at once.
type queue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	items    []string
	queued   map[string]bool
	active   map[string]bool
	dirty    map[string]bool
	timers   map[string]delayed
	failures map[string]int
	shutdown bool
}

type delayed struct {
	t  *time.Timer
	at time.Time
}

func newQueue() *queue {
	q := &queue{
		queued:   make(map[string]bool),
		active:   make(map[string]bool),
		dirty:    make(map[string]bool),
		timers:   make(map[string]delayed),
		failures: make(map[string]int),
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// add queues key now.
func (q *queue) add(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(key)
}

func (q *queue) addLocked(key string) {
	if q.shutdown {
		return
	}
	if q.active[key] {
		q.dirty[key] = true
		return
	}
	if q.queued[key] {
		return
	}
	q.queued[key] = true
	q.items = append(q.items, key)
	q.cond.Signal()
}

// addAfter queues key after d, unless it is already due sooner.
func (q *queue) addAfter(key string, d time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := time.Now().Add(d)
	if old, ok := q.timers[key]; ok {
		if !old.at.After(at) {
			return
		}
		old.t.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if cur, ok := q.timers[key]; ok && cur.t == t {
			delete(q.timers, key)
		}
		q.addLocked(key)
	})
	q.timers[key] = delayed{t: t, at: at}
}

// get waits for a key; false once the queue is shut down.
func (q *queue) get() (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	key := q.items[0]
	q.items = q.items[1:]
	delete(q.queued, key)
	q.active[key] = true
	return key, true
}

// done releases key; if it was notified meanwhile it is queued again.
func (q *queue) done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, key)
	if q.dirty[key] {
		delete(q.dirty, key)
		q.addLocked(key)
	}
}

// backoff returns how long to wait before retrying key after its n-th
// failure in a row: 200ms doubling to 30s.
func (q *queue) backoff(key string) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := q.failures[key]
	q.failures[key] = n + 1
	d := 200 * time.Millisecond
	for i := 0; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}

func (q *queue) forget(key string) {
	q.mu.Lock()
	delete(q.failures, key)
	q.mu.Unlock()
}

// stop wakes every waiting worker and drops pending timers.
func (q *queue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for k, d := range q.timers {
		d.t.Stop()
		delete(q.timers, k)
	}
	q.cond.Broadcast()
}
