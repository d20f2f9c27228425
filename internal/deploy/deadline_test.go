package deploy

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

// TestProgressDeadlineAfterRestart: time that passed while no server was
// watching does not count against a rollout's progress deadline. A server
// that comes back after being down longer than the deadline gives the
// rollout the whole deadline again, instead of failing it at once.
func TestProgressDeadlineAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")

	a := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	a.Services["web"].Env = map[string]string{"V": "2"}
	a.Strategy.ProgressDeadline = spec.Duration(30 * time.Second)
	e.apply(a)
	wantCalls(t, "start", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.edit("shop-web-r2", func(i int, in *runtime.Instance) { in.State = runtime.StateStarting })
	e.clock.Advance(20 * time.Second)
	wantCalls(t, "before the deadline", e.pass("shop"))

	// The server is down for ten minutes, then starts again.
	e.clock.Advance(10 * time.Minute)
	e.restart()
	wantCalls(t, "first pass after the restart", e.pass("shop"))
	if rel := e.release("shop", 2); rel.State != api.ReleaseProgressing {
		t.Fatalf("release 2 after the restart: %s %s %q, want still progressing", rel.State, rel.Reason, rel.Message)
	}
	e.clock.Advance(29 * time.Second)
	wantCalls(t, "within the deadline, counted from the restart", e.pass("shop"))
	e.clock.Advance(2 * time.Second)
	wantCalls(t, "past the deadline", e.pass("shop"), "delete shop-web-r2")
	if rel := e.release("shop", 2); rel.State != api.ReleaseFailed || rel.Reason != ReasonProgressDeadline {
		t.Fatalf("release 2: %s %s %q", rel.State, rel.Reason, rel.Message)
	}
}
