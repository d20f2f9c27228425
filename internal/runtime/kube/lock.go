package kube

import "sync"

// workloadLocks serialise Apply, Delete and drift repair of one workload,
// so a repair pass that read the workload before a Delete cannot write
// its objects back after the Delete removed them.
type workloadLocks struct {
	mu    sync.Mutex
	locks map[string]*lockEntry
}

type lockEntry struct {
	mu   sync.Mutex
	refs int
}

// lock locks the workload id and returns its unlock.
func (l *workloadLocks) lock(id string) func() {
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*lockEntry{}
	}
	e := l.locks[id]
	if e == nil {
		e = &lockEntry{}
		l.locks[id] = e
	}
	e.refs++
	l.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.locks, id)
		}
		l.mu.Unlock()
	}
}
