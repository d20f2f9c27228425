package server

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/pipeline/runner"
)

// switchTerm is a term whose lease is held until lost is set.
type switchTerm struct{ lost atomic.Bool }

func (s *switchTerm) Epoch() int64 { return 1 }
func (s *switchTerm) Check() error {
	if s.lost.Load() {
		return leader.ErrNotLeader
	}
	return nil
}

// sweepStub is a cluster executor whose Sweep lists (runs listing), then
// asks live, as the kube executor does; it deletes only when live
// answered.
type sweepStub struct {
	runner.ClusterExecutor
	listing func()
	deleted bool
}

func (s *sweepStub) Sweep(ctx context.Context, live func(context.Context) ([]string, error)) (map[string]int, error) {
	s.listing()
	if _, err := live(ctx); err != nil {
		return nil, err
	}
	s.deleted = true
	return map[string]int{"pod": 1}, nil
}

// TestGuardedSweep: a leader whose lease is gone sweeps nothing, whether
// it was gone before the sweep or went while the sweep listed (the check
// is made again just before deleting). A unit test of the guard; the
// sweep itself runs on a real control plane in the cluster tests.
func TestGuardedSweep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc               string
		lostBefore, lostIn bool
		wantDeleted        bool
	}{
		{desc: "lease held", wantDeleted: true},
		{desc: "lease lost before the sweep", lostBefore: true},
		{desc: "lease lost while listing", lostIn: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			term := &switchTerm{}
			term.lost.Store(tt.lostBefore)
			stub := &sweepStub{listing: func() {
				if tt.lostIn {
					term.lost.Store(true)
				}
			}}
			g := guardedClusterExecutor{stub}
			ctx := leader.WithTerm(t.Context(), term)
			_, err := g.Sweep(ctx, func(context.Context) ([]string, error) { return nil, nil })
			if stub.deleted != tt.wantDeleted {
				t.Errorf("deleted %v; want %v", stub.deleted, tt.wantDeleted)
			}
			if tt.wantDeleted != (err == nil) || (err != nil && !errors.Is(err, leader.ErrNotLeader)) {
				t.Errorf("Sweep = %v", err)
			}
		})
	}
}
