package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// LeaseStore keeps leases. Expiry is computed and compared with the
// store's clock (the database's), never a server's: servers' clocks may
// disagree, the database has one.
type LeaseStore interface {
	// Acquire takes lease name for holder when it is absent, expired or
	// released, bumping its epoch by one, and returns the new epoch. ok is
	// false (and nothing changes) while another holder's lease is valid.
	Acquire(ctx context.Context, name, holder string, ttl time.Duration) (epoch int64, ok bool, err error)
	// Renew pushes the expiry to now+ttl when holder still holds the lease
	// at epoch and it has not expired; ok is false otherwise.
	Renew(ctx context.Context, name, holder string, epoch int64, ttl time.Duration) (ok bool, err error)
	// Release expires the lease now when holder holds it at epoch, so a
	// successor need not wait out the lease after a clean shutdown.
	Release(ctx context.Context, name, holder string, epoch int64) error
}

// Defaults of LeaseOptions: a dead leader is replaced within about
// LeaseDuration + RetryPeriod.
const (
	DefaultLeaseDuration = 6 * time.Second
	DefaultRenewDeadline = 4 * time.Second
	DefaultRetryPeriod   = time.Second
)

// LeaseOptions configure a Lease elector.
type LeaseOptions struct {
	Store LeaseStore
	// Name of the lease row ("berth-leader").
	Name string
	// Holder names this server in the lease (unique per process).
	Holder string
	// LeaseDuration is how long the lease stays valid, by the database's
	// clock, after each renewal.
	LeaseDuration time.Duration
	// RenewDeadline is how long this server trusts its lease after a
	// renewal began, by its own monotonic clock. It must be shorter than
	// LeaseDuration: the margin covers clocks that tick at slightly
	// different rates and the renewal's round trip, so the old leader has
	// stopped trusting its lease before the database lets anyone else
	// take it.
	RenewDeadline time.Duration
	// RetryPeriod is the wait between attempts to acquire or renew.
	RetryPeriod time.Duration
	Logger      *slog.Logger
}

// Lease elects by a lease in a LeaseStore, the way client-go's
// leaderelection does with a Kubernetes Lease: acquire when expired,
// renew every RetryPeriod while held, give up leadership when a renewal
// has not succeeded within RenewDeadline, release on clean shutdown.
type Lease struct {
	o    LeaseOptions
	wake chan struct{}
}

// NewLease checks o and fills its defaults.
func NewLease(o LeaseOptions) (*Lease, error) {
	if o.Store == nil || o.Name == "" || o.Holder == "" {
		return nil, errors.New("leader: lease options: Store, Name and Holder are required")
	}
	if o.LeaseDuration <= 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline <= 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod <= 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.RenewDeadline >= o.LeaseDuration {
		return nil, fmt.Errorf("leader: lease options: renew deadline %s must be shorter than the lease duration %s", o.RenewDeadline, o.LeaseDuration)
	}
	if o.RetryPeriod >= o.RenewDeadline {
		return nil, fmt.Errorf("leader: lease options: retry period %s must be shorter than the renew deadline %s", o.RetryPeriod, o.RenewDeadline)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Lease{o: o, wake: make(chan struct{}, 1)}, nil
}

// Wake makes a campaigning elector try to acquire now instead of at its
// next retry: another server said it released the lease.
func (l *Lease) Wake() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// Holder is the name this elector holds the lease under.
func (l *Lease) Holder() string { return l.o.Holder }

// Run implements Elector.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context, t Term)) error {
	log := l.o.Logger.With("lease", l.o.Name, "holder", l.o.Holder)
	for {
		t, err := l.acquire(ctx)
		if err != nil {
			return nil // ctx ended while campaigning
		}
		log.Info("became leader", "epoch", t.epoch)
		termCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			lead(termCtx, t)
		}()
		reason := l.keep(termCtx, t)
		t.end() // Check fails from now on, whatever the clock says
		cancel()
		<-done // leader-only work has stopped before anyone is told
		if ctx.Err() != nil {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), l.o.RetryPeriod)
			if err := l.o.Store.Release(rctx, l.o.Name, l.o.Holder, t.epoch); err != nil {
				log.Warn("releasing the leader lease failed; a successor waits for it to expire", "err", err)
			} else {
				log.Info("released the leader lease", "epoch", t.epoch)
			}
			rcancel()
			return nil
		}
		log.Warn("lost leadership; leader-only work stopped", "epoch", t.epoch, "reason", reason)
	}
}

// acquire tries every RetryPeriod until it holds the lease or ctx ends.
func (l *Lease) acquire(ctx context.Context) (*term, error) {
	for {
		start := time.Now()
		actx, cancel := context.WithTimeout(ctx, l.o.RenewDeadline)
		epoch, ok, err := l.o.Store.Acquire(actx, l.o.Name, l.o.Holder, l.o.LeaseDuration)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			l.o.Logger.Warn("leader lease: acquire failed", "lease", l.o.Name, "err", err)
		case ok:
			t := &term{epoch: epoch}
			t.renewed(start.Add(l.o.RenewDeadline))
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(l.o.RetryPeriod):
		case <-l.wake:
		}
	}
}

// keep renews the lease every RetryPeriod until a renewal is refused, no
// renewal succeeded within RenewDeadline, or ctx ends. It returns why it
// stopped.
func (l *Lease) keep(ctx context.Context, t *term) string {
	tick := time.NewTicker(l.o.RetryPeriod)
	defer tick.Stop()
	for {
		// Leadership ends by the local clock even when a renewal hangs or
		// this loop is starved: the timer fires at the deadline.
		deadline := time.NewTimer(time.Until(t.until()))
		select {
		case <-ctx.Done():
			deadline.Stop()
			return "shutdown"
		case <-deadline.C:
			return "no renewal within the renew deadline"
		case <-tick.C:
			deadline.Stop()
		}
		if t.Check() != nil {
			return "no renewal within the renew deadline"
		}
		start := time.Now()
		rctx, cancel := context.WithDeadline(ctx, t.until())
		ok, err := l.o.Store.Renew(rctx, l.o.Name, l.o.Holder, t.epoch, l.o.LeaseDuration)
		cancel()
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return "shutdown"
			}
			l.o.Logger.Warn("leader lease: renew failed; retrying", "lease", l.o.Name, "err", err)
		case !ok:
			return "the lease expired or another server took it"
		default:
			t.renewed(start.Add(l.o.RenewDeadline))
		}
	}
}

// term is one stretch of leadership under a Lease.
type term struct {
	epoch int64
	mu    sync.Mutex
	valid time.Time // carries a monotonic reading: wall-clock jumps do not move it
	ended bool
}

func (t *term) Epoch() int64 { return t.epoch }

func (t *term) Check() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.ended && time.Now().Before(t.valid) {
		return nil
	}
	return ErrNotLeader
}

func (t *term) end() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ended = true
}

func (t *term) until() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.valid
}

func (t *term) renewed(until time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if until.After(t.valid) {
		t.valid = until
	}
}
