package webhook

import (
	"container/list"
	"context"
	"sync"
)

// DeliverySeen records delivery IDs. Seen records id and reports whether
// it was recorded before; it must be atomic, so that two copies of one
// delivery arriving together start one run. The store implements it for
// the server, so replays are refused across restarts and servers.
type DeliverySeen interface {
	Seen(ctx context.Context, id string) (bool, error)
}

// MemorySeen is a DeliverySeen that remembers the last capacity IDs.
// Forges retry a failed delivery within hours, so a few thousand IDs
// cover a busy server's window; an ID evicted earlier is accepted again.
type MemorySeen struct {
	mu    sync.Mutex
	cap   int
	order *list.List // of string, most recent first
	ids   map[string]*list.Element
}

// NewMemorySeen returns a MemorySeen holding up to capacity IDs (at least 1).
func NewMemorySeen(capacity int) *MemorySeen {
	return &MemorySeen{cap: max(capacity, 1), order: list.New(), ids: map[string]*list.Element{}}
}

// Seen implements DeliverySeen.
func (m *MemorySeen) Seen(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.ids[id]; ok {
		m.order.MoveToFront(el)
		return true, nil
	}
	m.ids[id] = m.order.PushFront(id)
	if m.order.Len() > m.cap {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.ids, last.Value.(string))
	}
	return false, nil
}
