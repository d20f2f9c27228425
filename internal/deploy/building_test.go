package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/build"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// gateBuilds makes builds of app wait until the returned function is
// called (the test's cleanup calls it too).
func (e *testEnv) gateBuilds(app string) (open func()) {
	e.b.mu.Lock()
	defer e.b.mu.Unlock()
	if e.b.gate == nil {
		e.b.gate = map[string]chan struct{}{}
		e.b.entered = make(chan string, 16)
	}
	gate := make(chan struct{})
	e.b.gate[app] = gate
	var opened bool
	open = func() {
		e.b.mu.Lock()
		defer e.b.mu.Unlock()
		if !opened {
			opened = true
			close(gate)
			delete(e.b.gate, app)
		}
	}
	e.t.Cleanup(open)
	return open
}

func (e *testEnv) waitBuildEntered(app string) {
	e.t.Helper()
	for {
		select {
		case got := <-e.b.entered:
			if got == app {
				return
			}
		case <-time.After(5 * time.Second):
			e.t.Fatalf("no build of %s started", app)
		}
	}
}

// TestBuildCancelledWhenTargetMoves: a build whose release the app no
// longer wants (a newer apply, a delete) is cancelled at once instead of
// holding the app's lock and a worker until it ends, possibly never.
func TestBuildCancelledWhenTargetMoves(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		change func(e *testEnv)
		after  func(t *testing.T, e *testEnv)
	}{
		{
			desc: "newer release applied",
			change: func(e *testEnv) {
				v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
				v2.Services["web"].Env = map[string]string{"V": "2"}
				e.apply(v2)
			},
			after: func(t *testing.T, e *testEnv) {
				wantCalls(t, "the new target", e.pass("shop"), "apply shop-web-r2 x1")
				if r1 := e.release("shop", 1); r1.State != api.ReleaseSuperseded || r1.Reason != ReasonReplaced {
					t.Fatalf("release 1: %s %s %q", r1.State, r1.Reason, r1.Message)
				}
			},
		},
		{
			desc: "app deleted",
			change: func(e *testEnv) {
				a := e.app("shop")
				a.Deleting = true
				if _, err := e.st.UpdateApp(e.ctx, a); err != nil {
					e.t.Fatal(err)
				}
			},
			after: func(t *testing.T, e *testEnv) {
				e.pass("shop")
				if _, err := e.st.GetApp(e.ctx, "shop"); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("app still there: %v", err)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			open := e.gateBuilds("shop")
			web := svc(1)
			web.Build = "make"
			e.apply(appSpec("shop", map[string]*spec.Service{"web": web}))
			type result struct {
				res Result
				err error
			}
			done := make(chan result, 1)
			go func() {
				res, err := e.r.Reconcile(e.ctx, "shop")
				done <- result{res, err}
			}()
			e.waitBuildEntered("shop")
			tc.change(e)
			e.r.Notify("shop") // what the API does after a write
			var got result
			select {
			case got = <-done:
			case <-time.After(3 * time.Second):
				open()
				<-done
				t.Fatal("the pass went on building a release the app no longer wants")
			}
			if got.err != nil || got.res.RequeueAfter != conflictRetry {
				t.Fatalf("pass: %+v, %v; want a quick requeue", got.res, got.err)
			}
			if r1 := e.release("shop", 1); r1.State == api.ReleaseFailed {
				t.Fatalf("release 1 failed for being cancelled: %q", r1.Message)
			}
			open()
			tc.after(t, e)
		})
	}
}

// TestPassAfterBuildReadsTheAppAgain: an apply that lands while a build
// runs (too late for the build's own check) must not let the pass act on
// the release it read before the build. Here that release uses recreate,
// so acting on it would stop the serving release.
func TestPassAfterBuildReadsTheAppAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")

	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v2.Services["web"].Build = "make"
	v2.Strategy.Type = spec.StrategyRecreate
	e.apply(v2)
	v3 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v3.Services["web"].Env = map[string]string{"V": "3"}
	applied := false
	e.b.done = func(req build.Request) {
		if !applied {
			applied = true
			e.apply(v3)
		}
	}
	wantCalls(t, "build of release 2 outlived by release 3", e.pass("shop"))
	if e.rt.replicas("shop-web-r1") != 1 {
		t.Fatal("the serving release was stopped for a release nobody wants any more")
	}
	e.b.done = nil
	wantCalls(t, "release 3", e.pass("shop"), "apply shop-web-r3 x1")
	if got := e.release("shop", 2).State; got != api.ReleaseSuperseded {
		t.Fatalf("release 2 %s", got)
	}
}

// TestLongBuildsLeaveAWorker: builds that never end take every build slot
// but not every worker, so another app's delete still goes through.
func TestLongBuildsLeaveAWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := e.options()
	opts.Workers = 2
	opts.Requeue = 20 * time.Millisecond
	opts.Resync = time.Hour // only what the test notifies
	e.r = New(opts)

	e.apply(appSpec("c", map[string]*spec.Service{"web": svc(1)}))
	e.settle("c")
	for _, app := range []string{"a", "b"} {
		e.gateBuilds(app)
		web := svc(1)
		web.Build = "make"
		e.apply(appSpec(app, map[string]*spec.Service{"web": web}))
	}
	c := e.app("c")
	c.Deleting = true
	if _, err := e.st.UpdateApp(e.ctx, c); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	// Run notifies every app when it starts: a, b and c.
	var building string
	select {
	case building = <-e.b.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no build started")
	}
	waiting := map[string]string{"a": "b", "b": "a"}[building]
	waitFor(t, "app c deleted while "+building+" builds", func() bool {
		_, err := e.st.GetApp(context.Background(), "c")
		return errors.Is(err, store.ErrNotFound)
	})
	waitFor(t, waiting+" waiting for a build slot", func() bool {
		a, err := e.st.GetApp(context.Background(), waiting)
		return err == nil && strings.Contains(a.Status.Message, "waits for a build slot")
	})
}
