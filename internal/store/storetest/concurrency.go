package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

// maxRetries bounds a read-modify-write retry loop so that a broken
// backend fails the test instead of spinning.
const maxRetries = 1000

var concurrencyTests = []test{
	{desc: "concurrency/racing updates: exactly one wins", run: func(t *testing.T, s store.Store) {
		RaceUpdates(t, s, s, s)
	}},
	{desc: "concurrency/racing release updates: exactly one wins", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("shop")))
		must(t, s.CreateRelease(ctx, testRelease("shop", 1)))
		r, err := s.GetRelease(ctx, "shop", 1)
		must(t, err)
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, 4)
		)
		for i := range errs {
			wg.Go(func() {
				b := r
				b.State = "Ready"
				<-start
				_, errs[i] = s.UpdateRelease(ctx, b)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			if err == nil {
				wins++
			} else if !errors.Is(err, store.ErrConflict) {
				t.Errorf("UpdateRelease: %v, want nil or ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Errorf("%d winners, want exactly 1 (errors %v)", wins, errs)
		}
	}},
	{desc: "concurrency/no lost updates", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		a := testApp("shop")
		a.LatestRelease = 0
		must(t, s.CreateApp(ctx, a))
		const workers, each = 4, 10
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					if err := increment(t, s, w%2 == 0); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		got, err := s.GetApp(ctx, "shop")
		must(t, err)
		if got.LatestRelease != workers*each {
			t.Errorf("LatestRelease = %d, want %d: updates were lost", got.LatestRelease, workers*each)
		}
	}},
	{desc: "concurrency/appends get distinct ordered revisions", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		const workers, each = 4, 10
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			revs = map[int64]bool{}
		)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					rev, err := s.AppendEvent(ctx, testEvent(w*each+i))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if revs[rev] {
						t.Errorf("revision %d handed out twice", rev)
					}
					revs[rev] = true
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		es, err := s.ListEvents(ctx, 0, 0)
		must(t, err)
		if len(es) != workers*each {
			t.Fatalf("%d events, want %d", len(es), workers*each)
		}
		for i, e := range es {
			if !revs[e.Revision] {
				t.Errorf("listed revision %d was never returned by AppendEvent", e.Revision)
			}
			if i > 0 && e.Revision <= es[i-1].Revision {
				t.Errorf("events out of order: %d after %d", e.Revision, es[i-1].Revision)
			}
		}
	}},
}

// increment adds one to the app's LatestRelease by read-modify-write,
// retrying on conflict, inside InTx or as two separate calls.
func increment(t *testing.T, s store.Store, inTx bool) error {
	ctx := t.Context()
	for range maxRetries {
		var err error
		if inTx {
			err = s.InTx(ctx, func(tx store.Tx) error { return incrementOnce(t, tx) })
		} else {
			err = incrementOnce(t, s)
		}
		if !errors.Is(err, store.ErrConflict) {
			return err
		}
	}
	return errors.New("increment: still conflicting after many retries")
}

func incrementOnce(t *testing.T, s store.Tx) error {
	a, err := s.GetApp(t.Context(), "shop")
	if err != nil {
		return err
	}
	a.LatestRelease++
	_, err = s.UpdateApp(t.Context(), a)
	return err
}

// RaceUpdates creates the app "shop" and then, in rounds, has one racer
// per store read it and update it from the version read, all at once:
// exactly one must win each round and the others get ErrConflict. The
// contract passes one store several times; a backend that several servers
// share passes one store per server.
func RaceUpdates(t *testing.T, stores ...store.Store) {
	ctx := t.Context()
	must(t, stores[0].CreateApp(ctx, testApp("shop")))
	const rounds = 20
	racers := len(stores)
	for round := range rounds {
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, racers)
		)
		for i, s := range stores {
			a, err := s.GetApp(ctx, "shop")
			must(t, err)
			wg.Go(func() {
				a.TargetRelease = round*racers + i
				<-start
				_, errs[i] = s.UpdateApp(ctx, a)
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d racer %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1 (errors %v)", round, wins, errs)
		}
	}
	a, err := stores[0].GetApp(ctx, "shop")
	must(t, err)
	if a.Version != rounds {
		t.Errorf("Version = %d after %d won rounds, want %d", a.Version, rounds, rounds)
	}
}
