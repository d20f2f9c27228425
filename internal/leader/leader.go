// Package leader chooses which server runs the work that must run once:
// reconcilers, canary step timers, pipeline dispatch and cron, drift repair
// and the local runtime's supervising loop. Every server serves the API,
// the watch feed and the gateway; only the leader does that work.
//
// An Elector campaigns and hands each stretch of leadership (a Term) to a
// function that runs the leader-only work until the term's context ends.
// On SQLite there is one server and Always makes it the leader for good;
// on PostgreSQL, Lease elects by a lease row with a fencing epoch.
package leader

import "context"

// Term is one stretch of leadership.
type Term interface {
	// Epoch is the lease's fencing epoch for this term: it grows by one
	// every time the lease changes hands, so a write checked against it
	// in the database cannot land once another server has taken over.
	Epoch() int64
	// Check reports nil while the lease is surely still held by this
	// server's monotonic clock (renewed less than the renew deadline
	// ago), and ErrNotLeader otherwise. Leader-only work calls it right
	// before acting on the outside world (starting a process, applying to
	// a cluster): a server resumed after a long pause stops acting at
	// once, before its renew loop even runs.
	Check() error
}

// Elector campaigns for leadership.
type Elector interface {
	// Run campaigns until ctx ends. Each time it wins it calls lead with a
	// context that ends when leadership is lost (or ctx ends), and waits
	// for lead to return before it campaigns again: leader-only work is
	// cancelled and waited for, never left running beside a successor.
	// It returns nil when ctx ends, after giving up the lease.
	Run(ctx context.Context, lead func(ctx context.Context, t Term)) error
}
