package leader_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/leader"
)

// memLeases is an in-memory LeaseStore for unit tests of the elector's
// logic (the real one, on PostgreSQL, is tested in pglease).
type memLeases struct {
	mu      sync.Mutex
	holder  string
	epoch   int64
	expires time.Time
	refuse  bool // renewals are refused (another server took over)
	fail    bool // calls fail (database unreachable)
}

func (m *memLeases) Acquire(_ context.Context, _, holder string, ttl time.Duration) (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return 0, false, errors.New("unreachable")
	}
	if m.holder != "" && time.Now().Before(m.expires) {
		return 0, false, nil
	}
	m.holder, m.epoch, m.expires = holder, m.epoch+1, time.Now().Add(ttl)
	return m.epoch, true, nil
}

func (m *memLeases) Renew(_ context.Context, _, holder string, epoch int64, ttl time.Duration) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail {
		return false, errors.New("unreachable")
	}
	if m.refuse || m.holder != holder || m.epoch != epoch || !time.Now().Before(m.expires) {
		return false, nil
	}
	m.expires = time.Now().Add(ttl)
	return true, nil
}

func (m *memLeases) Release(_ context.Context, _, holder string, epoch int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.holder == holder && m.epoch == epoch {
		m.expires = time.Now()
	}
	return nil
}

func (m *memLeases) set(f func(*memLeases)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func TestLeaseTermEnds(t *testing.T) {
	for _, tc := range []struct {
		desc    string
		breakIt func(*memLeases)
	}{
		{desc: "renewal refused", breakIt: func(m *memLeases) { m.refuse = true }},
		{desc: "database unreachable past the renew deadline", breakIt: func(m *memLeases) { m.fail = true }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			store := &memLeases{}
			el, err := leader.NewLease(leader.LeaseOptions{Store: store, Name: "l", Holder: "a",
				LeaseDuration: 300 * time.Millisecond, RenewDeadline: 200 * time.Millisecond, RetryPeriod: 20 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			terms := make(chan leader.Term, 4)
			ended := make(chan leader.Term, 4)
			done := make(chan struct{})
			go func() {
				defer close(done)
				_ = el.Run(ctx, func(ctx context.Context, tm leader.Term) {
					terms <- tm
					<-ctx.Done()
					ended <- tm
				})
			}()
			first := <-terms
			if first.Epoch() != 1 || first.Check() != nil {
				t.Fatalf("first term: epoch %d check %v", first.Epoch(), first.Check())
			}
			store.set(tc.breakIt)
			if got := <-ended; got != first {
				t.Fatal("another term ended")
			}
			if err := first.Check(); !errors.Is(err, leader.ErrNotLeader) {
				t.Fatalf("an ended term's Check = %v, want ErrNotLeader", err)
			}
			// Once the store works again, the elector campaigns and wins a
			// new term with a higher epoch.
			store.set(func(m *memLeases) { m.refuse, m.fail = false, false })
			second := <-terms
			if second.Epoch() <= first.Epoch() {
				t.Fatalf("second term epoch %d, first %d", second.Epoch(), first.Epoch())
			}
			cancel()
			<-done
			store.mu.Lock()
			defer store.mu.Unlock()
			if time.Now().Before(store.expires) {
				t.Fatal("the lease was not released on shutdown")
			}
		})
	}
}

func TestNewLeaseOptions(t *testing.T) {
	for _, tc := range []struct {
		desc string
		o    leader.LeaseOptions
	}{
		{desc: "no store", o: leader.LeaseOptions{Name: "l", Holder: "a"}},
		{desc: "renew deadline not shorter than the lease", o: leader.LeaseOptions{Store: &memLeases{}, Name: "l", Holder: "a", LeaseDuration: time.Second, RenewDeadline: time.Second}},
		{desc: "retry not shorter than the renew deadline", o: leader.LeaseOptions{Store: &memLeases{}, Name: "l", Holder: "a", LeaseDuration: 3 * time.Second, RenewDeadline: time.Second, RetryPeriod: time.Second}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if _, err := leader.NewLease(tc.o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestContextTerm(t *testing.T) {
	ctx := context.Background()
	if leader.TermFrom(ctx) != nil || leader.CheckContext(ctx) != nil {
		t.Fatal("a context without a term has one, or fails its check")
	}
	ctx = leader.WithTerm(ctx, stale{})
	if leader.TermFrom(ctx) == nil || !errors.Is(leader.CheckContext(ctx), leader.ErrNotLeader) {
		t.Fatal("the term's Check is not used")
	}
	// Work detached from cancellation is still leader-only work.
	if !errors.Is(leader.CheckContext(context.WithoutCancel(ctx)), leader.ErrNotLeader) {
		t.Fatal("the term is lost by WithoutCancel")
	}
}

type stale struct{}

func (stale) Epoch() int64 { return 7 }
func (stale) Check() error { return leader.ErrNotLeader }
