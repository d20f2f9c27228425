package gateway

import (
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Retry budget window: retries over the last budgetWindow seconds may not
// exceed Budget × requests over the same seconds, plus minRetries so a
// quiet route can still retry its rare failure.
const (
	budgetWindow = 10
	minRetries   = 3
)

// maxBufferedBody is the largest request body buffered so that a request
// with a body can be retried; larger (or chunked) bodies are streamed and
// never retried.
const maxBufferedBody = 64 << 10

type retryConf struct {
	attempts int
	perTry   time.Duration
	safe     []string
	budget   float64
}

func newRetryConf(p *RetryPolicy) *retryConf {
	if p == nil {
		return nil
	}
	c := &retryConf{attempts: p.Attempts, perTry: p.PerTryTimeout, budget: p.Budget}
	if c.budget == 0 {
		c.budget = DefaultRetryBudget
	}
	for _, m := range p.SafeMethods {
		c.safe = append(c.safe, strings.ToUpper(m))
	}
	return c
}

// methodOK reports whether a request with method m may be sent twice:
// the idempotent methods of RFC 9110, and those the route declares safe.
func (c *retryConf) methodOK(m string) bool {
	return isIdempotent(m) || slices.Contains(c.safe, m)
}

// retryBudget counts requests and retries per second over a sliding
// window; lock-free, and approximate only when a second rolls over under
// contention.
type retryBudget struct {
	slots [budgetWindow]budgetSlot
}

type budgetSlot struct {
	sec     atomic.Int64
	reqs    atomic.Int64
	retries atomic.Int64
}

func (b *retryBudget) slot(sec int64) *budgetSlot {
	s := &b.slots[sec%budgetWindow]
	if old := s.sec.Load(); old != sec && s.sec.CompareAndSwap(old, sec) {
		s.reqs.Store(0)
		s.retries.Store(0)
	}
	return s
}

func (b *retryBudget) request(sec int64) { b.slot(sec).reqs.Add(1) }

// take spends one retry if the budget allows it.
func (b *retryBudget) take(sec int64, ratio float64) bool {
	var reqs, retries int64
	for i := range b.slots {
		s := &b.slots[i]
		if sec-s.sec.Load() < budgetWindow {
			reqs += s.reqs.Load()
			retries += s.retries.Load()
		}
	}
	if float64(retries+1) > ratio*float64(reqs)+minRetries {
		return false
	}
	b.slot(sec).retries.Add(1)
	return true
}
