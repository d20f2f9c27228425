package retention

import (
	"slices"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// The policy alone, on runs in memory: which runs' artifacts expire.
func TestPolicyExpiring(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)
	kept := []store.RunStep{{Name: "build", Artifacts: &store.StepArtifacts{Digest: "sha256:x"}}}
	expired := []store.RunStep{{Name: "build", Artifacts: &store.StepArtifacts{ExpiredAt: now}}}
	run := func(app string, n int, state string, endedDaysAgo int, steps []store.RunStep) store.Run {
		r := store.Run{ID: app + "." + string(rune('0'+n)), App: app, Number: n, State: state, Steps: steps}
		if endedDaysAgo >= 0 {
			r.FinishedAt = now.Add(-time.Duration(endedDaysAgo) * 24 * time.Hour)
		}
		return r
	}
	tests := []struct {
		desc   string
		policy Policy
		runs   []store.Run
		want   []string
	}{
		{desc: "old runs expire, recent ones stay", policy: Policy{TTL: 30 * 24 * time.Hour},
			runs: []store.Run{run("a", 1, store.RunFailed, 31, kept), run("a", 2, store.RunFailed, 29, kept)}, want: []string{"a.1"}},
		{desc: "the newest successful runs of each app stay, failed ones do not count", policy: Policy{TTL: time.Hour, KeepLast: 1},
			runs: []store.Run{run("a", 1, store.RunSucceeded, 9, kept), run("a", 2, store.RunSucceeded, 8, kept), run("a", 3, store.RunFailed, 7, kept),
				run("b", 1, store.RunSucceeded, 9, kept)},
			want: []string{"a.1", "a.3"}},
		{desc: "a successful run that kept no artifacts takes no place among the newest", policy: Policy{TTL: time.Hour, KeepLast: 1},
			runs: []store.Run{run("a", 1, store.RunSucceeded, 9, kept), run("a", 2, store.RunSucceeded, 8, []store.RunStep{{Name: "test"}}),
				run("a", 3, store.RunSucceeded, 7, expired)}},
		{desc: "TTL 0 keeps everything", policy: Policy{},
			runs: []store.Run{run("a", 1, store.RunFailed, 999, kept)}},
		{desc: "running, never ended, nothing kept or already expired: nothing to do", policy: Policy{TTL: time.Hour},
			runs: []store.Run{run("a", 1, store.RunRunning, 5, kept), run("a", 2, store.RunCancelled, -1, kept),
				run("a", 3, store.RunFailed, 5, []store.RunStep{{Name: "test"}}), run("a", 4, store.RunFailed, 5, expired)}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, r := range tt.policy.expiring(tt.runs, now) {
				got = append(got, r.ID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("expiring = %v, want %v", got, tt.want)
			}
		})
	}
}
