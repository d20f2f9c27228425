package gatewayd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/pkg/api"
)

// fakeSource is a control plane in memory (unit tests of the follower's
// timing; TestFollow runs against the real API).
type fakeSource struct {
	mu      sync.Mutex
	rev     int64
	fetches int
	fail    int // the next fetches that fail
	since   []int64
	events  chan api.Event
}

func (s *fakeSource) GatewaySnapshot(context.Context) (api.GatewaySnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fetches++
	if s.fail > 0 {
		s.fail--
		return api.GatewaySnapshot{}, errors.New("connection refused")
	}
	return api.GatewaySnapshot{Revision: s.rev, Routes: []api.GatewayRoute{}}, nil
}

func (s *fakeSource) Watch(ctx context.Context, since int64, fn func(api.Event) error) error {
	s.mu.Lock()
	s.since = append(s.since, since)
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-s.events:
			if err := fn(e); err != nil {
				return err
			}
		}
	}
}

func (s *fakeSource) state() (fetches int, since []int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fetches, slices.Clone(s.since)
}

// fakeLoader records the revisions loaded.
type fakeLoader struct {
	mu    sync.Mutex
	loads []int64
}

func (l *fakeLoader) Load(s gateway.Snapshot) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loads = append(l.loads, s.Revision)
	return nil
}

func (l *fakeLoader) Revision() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.loads) == 0 {
		return 0
	}
	return l.loads[len(l.loads)-1]
}

func (l *fakeLoader) all() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.loads)
}

func newTestFollower(t *testing.T, src *fakeSource, since int64) (*follower, *fakeLoader) {
	t.Helper()
	m, err := newFollowerMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	gw := &fakeLoader{}
	f := &follower{
		src: src, gw: gw, server: "http://cp", log: slog.New(slog.DiscardHandler), m: m, now: time.Now,
		debounce: 50 * time.Millisecond, retryMin: 5 * time.Millisecond, retryMax: 20 * time.Millisecond,
		fetchTimeout: time.Second, dirty: make(chan struct{}, 1), since: since,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return f, gw
}

func waitFor(t *testing.T, what string, ok func() error) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		err := ok()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFollowerDebounces(t *testing.T) {
	t.Parallel()
	src := &fakeSource{rev: 10, events: make(chan api.Event)}
	f, gw := newTestFollower(t, src, 0)
	for rev := int64(1); rev <= 10; rev++ {
		src.events <- api.Event{Revision: rev, Kind: api.EventAppStatus}
	}
	waitFor(t, "one load", func() error {
		if got := gw.all(); !slices.Equal(got, []int64{10}) {
			return fmt.Errorf("loads %v", got)
		}
		return nil
	})
	time.Sleep(150 * time.Millisecond)
	if fetches, _ := src.state(); fetches != 1 || f.position() != 10 {
		t.Fatalf("10 events within the debounce: %d fetches, position %d; want 1 and 10", fetches, f.position())
	}
}

func TestFollowerRetriesFetch(t *testing.T) {
	t.Parallel()
	src := &fakeSource{rev: 3, fail: 3, events: make(chan api.Event)}
	_, gw := newTestFollower(t, src, 0)
	src.events <- api.Event{Revision: 3}
	waitFor(t, "loaded after the failures", func() error {
		if fetches, _ := src.state(); fetches != 4 || !slices.Equal(gw.all(), []int64{3}) {
			return fmt.Errorf("%d fetches, loads %v", fetches, gw.all())
		}
		return nil
	})
}

// TestFollowerRevisionWentBack: a control plane whose store is behind the
// position (restored from a backup) is followed from its own revision.
func TestFollowerRevisionWentBack(t *testing.T) {
	t.Parallel()
	src := &fakeSource{rev: 5, events: make(chan api.Event)}
	f, gw := newTestFollower(t, src, 50)
	f.markDirty()
	waitFor(t, "the watch restarts from 5", func() error {
		// Normally [50 5]; [5] when the watch started after the fetch.
		if _, since := src.state(); len(since) == 0 || since[len(since)-1] != 5 || !slices.Equal(gw.all(), []int64{5}) {
			return fmt.Errorf("watched from %v, loads %v", since, gw.all())
		}
		return nil
	})
	src.mu.Lock()
	src.rev = 6
	src.mu.Unlock()
	src.events <- api.Event{Revision: 6}
	waitFor(t, "the next change", func() error {
		if got := gw.all(); !slices.Equal(got, []int64{5, 6}) {
			return fmt.Errorf("loads %v", got)
		}
		return nil
	})
}
