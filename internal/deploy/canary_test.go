package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// canarySpec is the app with web at n replicas, a changed env (a new
// release), and a canary strategy of steps.
func canarySpec(n int, version string, steps ...spec.CanaryStep) *spec.App {
	web := svc(n)
	web.Env = map[string]string{"VERSION": version}
	a := appSpec("shop", map[string]*spec.Service{"web": web})
	a.Strategy = spec.Strategy{Type: spec.StrategyCanary, Steps: steps}
	return a
}

func pauseOf(d time.Duration) *spec.Duration {
	p := spec.Duration(d)
	return &p
}

// setCanary changes the app's canary record as the API does (which also
// sets StepStartedAt when it moves the canary).
func (e *testEnv) setCanary(app string, fn func(c *store.Canary) *store.Canary) {
	e.t.Helper()
	a := e.app(app)
	var cur *store.Canary
	if a.Canary != nil {
		c := *a.Canary
		cur = &c
	}
	a.Canary = fn(cur)
	if _, err := e.st.UpdateApp(e.ctx, a); err != nil {
		e.t.Fatal(err)
	}
}

// reconcile runs one pass and returns its result.
func (e *testEnv) reconcile(app string) Result {
	e.t.Helper()
	res, err := e.r.Reconcile(e.ctx, app)
	if err != nil {
		e.t.Fatalf("reconcile: %v", err)
	}
	return res
}

func TestCanaryStepsThenPromote(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(4)}))
	e.settle("shop")
	e.apply(canarySpec(4, "2", spec.CanaryStep{Weight: 10, Pause: pauseOf(time.Minute)}, spec.CanaryStep{Weight: 50}))
	start := e.clock.Now()

	// 10 % of 4 rounds up to one instance; the stable release keeps all 4.
	wantCalls(t, "canary starts", e.pass("shop"), "apply shop-web-r2 x1")
	a := e.app("shop")
	if c := a.Canary; c == nil || c.Release != 2 || c.Weight != 10 || c.Step != 0 || c.Manual || c.Promote || !c.StepStartedAt.Equal(start) {
		t.Fatalf("canary record %+v", a.Canary)
	}
	if a.Status.Phase != api.PhaseProgressing || a.Status.Message != "canary release 2 at 10 %: web 0/1 ready" || a.Status.Serving != 1 {
		t.Fatalf("status %q %q serving %d", a.Status.Phase, a.Status.Message, a.Status.Serving)
	}
	if r := e.rt.replicas("shop-web-r1"); r != 4 {
		t.Fatalf("stable replicas %d", r)
	}

	e.rt.readyAll()
	res := e.reconcile("shop")
	a = e.app("shop")
	next := start.Add(time.Minute)
	want := &api.CanaryStatus{Release: 2, Stable: 1, Weight: 10, Step: 1, Steps: 2, NextStepAt: next, Ready: true}
	if got := a.Status.Canary; got == nil || *got != *want {
		t.Fatalf("canary status %+v, want %+v", got, want)
	}
	if !strings.HasPrefix(a.Status.Message, "canary release 2 at 10 % (step 1 of 2); next step at ") {
		t.Fatalf("message %q", a.Status.Message)
	}
	if c := condition(a.Status, api.ConditionProgressing); c.Status != "True" || c.Reason != reasonCanary || c.Message != a.Status.Message {
		t.Fatalf("progressing %+v", c)
	}
	if res.RequeueAfter != time.Minute {
		t.Fatalf("requeue after %s, want the step's pause", res.RequeueAfter)
	}
	// Nothing to do until then: no runtime call, no store write.
	before := e.st.writes.Load()
	wantCalls(t, "steady canary", e.pass("shop"))
	if n := e.st.writes.Load() - before; n != 0 {
		t.Fatalf("%d store writes in a steady canary pass", n)
	}

	e.clock.Advance(time.Minute)
	wantCalls(t, "second step", e.pass("shop"), "apply shop-web-r2 x2")
	if c := e.app("shop").Canary; c.Weight != 50 || c.Step != 1 || !c.StepStartedAt.Equal(e.clock.Now()) {
		t.Fatalf("canary after the pause %+v", c)
	}
	e.rt.readyAll()
	e.pass("shop")
	e.clock.Advance(time.Hour) // a step without a pause waits for a hand
	wantCalls(t, "waiting for a hand", e.pass("shop"))
	a = e.app("shop")
	if !strings.Contains(a.Status.Message, "(step 2 of 2); waiting for berth rollout --weight, promote or abort") || !a.Status.Canary.NextStepAt.IsZero() {
		t.Fatalf("status %q %+v", a.Status.Message, a.Status.Canary)
	}

	// Promote (as the API does): the canary goes to full replicas, and
	// only once they are ready does it serve and the stable release stop.
	e.setCanary("shop", func(c *store.Canary) *store.Canary { c.Promote, c.StepStartedAt = true, e.clock.Now(); return c })
	wantCalls(t, "promote scales up", e.pass("shop"), "apply shop-web-r2 x4")
	a = e.app("shop")
	if !a.Status.Canary.Promoting || !strings.HasPrefix(a.Status.Message, "promoting canary release 2: web 2/4 ready") {
		t.Fatalf("promoting status %q %+v", a.Status.Message, a.Status.Canary)
	}
	if e.rt.replicas("shop-web-r1") != 4 {
		t.Fatal("stable stopped before the canary was fully ready")
	}
	e.rt.readyAll()
	wantCalls(t, "promoted", e.pass("shop"), "delete shop-web-r1")
	a = e.app("shop")
	if a.Canary != nil || a.Status.Canary != nil || a.Status.Serving != 2 || a.Status.Phase != api.PhaseRunning {
		t.Fatalf("after promotion: canary %+v status %+v", a.Canary, a.Status)
	}
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("release states %v", got)
	}
	wantCalls(t, "done", e.pass("shop"))
}

func TestCanaryPromotedAfterLastPause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")
	e.apply(canarySpec(2, "2", spec.CanaryStep{Weight: 50, Pause: pauseOf(30 * time.Second)}))
	wantCalls(t, "canary", e.pass("shop"), "apply shop-web-r2 x1")
	e.clock.Advance(time.Minute)
	// The pause is over, but the canary is not ready: it waits.
	wantCalls(t, "not ready", e.pass("shop"))
	if c := e.app("shop").Canary; c.Promote {
		t.Fatal("promoted an unready canary")
	}
	e.rt.readyAll()
	wantCalls(t, "promote", e.pass("shop"), "apply shop-web-r2 x2")
	e.rt.readyAll()
	wantCalls(t, "deployed", e.pass("shop"), "delete shop-web-r1")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("release states %v", got)
	}
}

// TestCanaryByHandThenAbort: a rolling release made a canary by hand (as
// `berth rollout --canary 0` does), moved, then aborted.
func TestCanaryByHandThenAbort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(4)}))
	e.settle("shop")
	v2 := svc(4)
	v2.Env = map[string]string{"VERSION": "2"}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": v2}))
	e.setCanary("shop", func(*store.Canary) *store.Canary {
		return &store.Canary{Release: 2, Weight: 0, StepStartedAt: e.clock.Now(), Manual: true}
	})
	// Weight 0 still runs one instance, for pinned requests.
	wantCalls(t, "canary at 0", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.readyAll()
	e.pass("shop")
	a := e.app("shop")
	if c := a.Status.Canary; c == nil || !c.Manual || c.Step != 0 || c.Steps != 0 || c.Weight != 0 || !c.NextStepAt.IsZero() {
		t.Fatalf("canary status %+v", a.Status.Canary)
	}
	if a.Status.Message != "canary release 2 at 0 %; moved by hand: berth rollout --weight, promote or abort" {
		t.Fatalf("message %q", a.Status.Message)
	}
	e.clock.Advance(24 * time.Hour) // by hand: nothing moves on its own, no deadline
	wantCalls(t, "a day later", e.pass("shop"))

	e.setCanary("shop", func(c *store.Canary) *store.Canary { c.Weight, c.StepStartedAt = 60, e.clock.Now(); return c })
	wantCalls(t, "weight 60", e.pass("shop"), "apply shop-web-r2 x3")
	e.rt.readyAll()
	e.setCanary("shop", func(c *store.Canary) *store.Canary { c.Weight, c.StepStartedAt = 20, e.clock.Now(); return c })
	wantCalls(t, "weight 20", e.pass("shop"), "apply shop-web-r2 x1")

	// Abort, as the API does it: the release fails with reason Aborted and
	// the canary record goes; the reconciler stops the canary.
	rel := e.release("shop", 2)
	rel.State, rel.Reason, rel.Message = api.ReleaseFailed, api.ReasonAborted, "canary aborted"
	if _, err := e.st.UpdateRelease(e.ctx, rel); err != nil {
		t.Fatal(err)
	}
	e.setCanary("shop", func(*store.Canary) *store.Canary { return nil })
	wantCalls(t, "abort", e.pass("shop"), "delete shop-web-r2")
	a = e.app("shop")
	if a.Status.Serving != 1 || a.Status.Canary != nil || e.rt.replicas("shop-web-r1") != 4 {
		t.Fatalf("after abort: %+v", a.Status)
	}
	if c := condition(a.Status, api.ConditionFailed); c.Status != "True" || c.Reason != api.ReasonAborted {
		t.Fatalf("failed condition %+v", c)
	}
	if eps := e.px.endpoints("shop", "web"); len(eps) != 4 {
		t.Fatalf("service address endpoints %v, want the 4 stable ones", eps)
	}
}

func TestCanaryCrashLoopAborts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")
	e.apply(canarySpec(2, "2", spec.CanaryStep{Weight: 10}))
	wantCalls(t, "canary", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.edit("shop-web-r2", func(i int, in *runtime.Instance) {
		in.Restarts = 3
		in.LastExit = &runtime.Exit{Code: 2, LogTail: []string{"panic: boom"}}
	})
	wantCalls(t, "crash loop", e.pass("shop"), "delete shop-web-r2")
	a := e.app("shop")
	rel := e.release("shop", 2)
	if rel.State != api.ReleaseFailed || rel.Reason != ReasonCrashLoop || !strings.Contains(rel.Message, "panic: boom") {
		t.Fatalf("release %+v", rel)
	}
	if a.Canary != nil || a.Status.Canary != nil || a.Status.Serving != 1 || a.Status.Phase != api.PhaseFailed {
		t.Fatalf("app after the crash: canary %+v status %+v", a.Canary, a.Status)
	}
	if e.rt.replicas("shop-web-r1") != 2 {
		t.Fatal("stable release touched")
	}
}

// TestCanaryDeadlinePerStep: a long pause is not a slow rollout; a step
// whose instances do not become ready in time is.
func TestCanaryDeadlinePerStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(4)}))
	e.settle("shop")
	e.apply(canarySpec(4, "2", spec.CanaryStep{Weight: 10, Pause: pauseOf(10 * time.Minute)}, spec.CanaryStep{Weight: 50}))
	e.pass("shop")
	e.rt.readyAll()
	e.clock.Advance(5 * time.Minute) // past the 2m deadline, within the pause
	wantCalls(t, "pausing", e.pass("shop"))
	if st := e.release("shop", 2).State; st != api.ReleaseProgressing {
		t.Fatalf("release %s during a pause", st)
	}
	e.clock.Advance(5 * time.Minute)
	wantCalls(t, "step", e.pass("shop"), "apply shop-web-r2 x2")
	e.clock.Advance(time.Minute)
	wantCalls(t, "within the deadline", e.pass("shop"))
	e.clock.Advance(2 * time.Minute)
	wantCalls(t, "deadline", e.pass("shop"), "delete shop-web-r2")
	rel := e.release("shop", 2)
	if rel.State != api.ReleaseFailed || rel.Reason != ReasonProgressDeadline || rel.Message != "canary release 2: web 1/2 ready after 2m0s" {
		t.Fatalf("release %+v", rel)
	}
}

// TestCanaryDependencies: a canary service waits for its dependencies'
// canary instances, not for their full replica count.
func TestCanaryDependencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(4)}))
	e.settle("shop")
	a := appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(4)})
	a.Services["api"].Env = map[string]string{"VERSION": "2"}
	a.Strategy = spec.Strategy{Type: spec.StrategyCanary, Steps: []spec.CanaryStep{{Weight: 25}}}
	e.apply(a)
	wantCalls(t, "api first", e.pass("shop"), "apply shop-api-r2 x1")
	if msg := e.app("shop").Status.Message; msg != "canary release 2 at 25 %: api 0/1 ready, web 0/1 ready (web waiting for api)" {
		t.Fatalf("message %q", msg)
	}
	e.rt.readyAll()
	wantCalls(t, "then web", e.pass("shop"), "apply shop-web-r2 x1")
	if w := e.rt.applied["shop-web-r2"]; w.Env["API_URL"] == "" {
		t.Fatalf("canary web without the api's address: %+v", w.Env)
	}
}

func TestCanaryFirstReleaseRollsOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(canarySpec(2, "1", spec.CanaryStep{Weight: 10}))
	e.settle("shop")
	a := e.app("shop")
	if a.Canary != nil || a.Status.Serving != 1 || a.Status.Phase != api.PhaseRunning || e.rt.replicas("shop-web-r1") != 2 {
		t.Fatalf("first release: canary %+v status %+v", a.Canary, a.Status)
	}
}

// TestCanaryReplacedByNewRelease: a release applied during a canary
// replaces it; its own canary starts from its first step.
func TestCanaryReplacedByNewRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")
	e.apply(canarySpec(2, "2", spec.CanaryStep{Weight: 50}))
	e.pass("shop")
	e.rt.readyAll()
	e.pass("shop")
	e.apply(canarySpec(2, "3", spec.CanaryStep{Weight: 10}))
	wantCalls(t, "replaced", e.pass("shop"), "delete shop-web-r2", "apply shop-web-r3 x1")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseDeployed, api.ReleaseSuperseded, api.ReleaseProgressing}) {
		t.Fatalf("release states %v", got)
	}
	if c := e.app("shop").Canary; c == nil || c.Release != 3 || c.Weight != 10 {
		t.Fatalf("canary %+v", c)
	}
}

func TestCanaryStaleRecordCleared(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	e.setCanary("shop", func(*store.Canary) *store.Canary { return &store.Canary{Release: 1, Weight: 30} })
	wantCalls(t, "stale", e.pass("shop"))
	if c := e.app("shop").Canary; c != nil {
		t.Fatalf("stale canary kept: %+v", c)
	}
}

func TestCanaryReplicas(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		desired int
		c       store.Canary
		want    int
	}{
		{desc: "rounds up", desired: 4, c: store.Canary{Weight: 10}, want: 1},
		{desc: "half", desired: 4, c: store.Canary{Weight: 50}, want: 2},
		{desc: "just over half", desired: 4, c: store.Canary{Weight: 51}, want: 3},
		{desc: "weight 0 keeps one", desired: 3, c: store.Canary{Weight: 0}, want: 1},
		{desc: "99 of 10", desired: 10, c: store.Canary{Weight: 99}, want: 10},
		{desc: "promoting runs all", desired: 7, c: store.Canary{Weight: 10, Promote: true}, want: 7},
		{desc: "a stopped service stays stopped", desired: 0, c: store.Canary{Weight: 50}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := canaryReplicas(tt.desired, &tt.c); got != tt.want {
				t.Fatalf("canaryReplicas(%d, %+v) = %d, want %d", tt.desired, tt.c, got, tt.want)
			}
		})
	}
}

// TestCanaryNotForRollback: a rollback to a release with a canary
// strategy rolls out at once.
func TestCanaryNotForRollback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	e.apply(canarySpec(1, "2", spec.CanaryStep{Weight: 50}))
	e.pass("shop")
	e.rt.readyAll()
	e.setCanary("shop", func(c *store.Canary) *store.Canary { c.Promote, c.StepStartedAt = true, e.clock.Now(); return c })
	e.settle("shop")
	if s := e.app("shop").Status.Serving; s != 2 {
		t.Fatalf("serving %d after promote", s)
	}
	e.createRelease(canarySpec(1, "2", spec.CanaryStep{Weight: 50}), "rollback", 2)
	e.settle("shop")
	a := e.app("shop")
	if a.Canary != nil || a.Status.Serving != 3 || e.rt.replicas("shop-web-r2") != -1 {
		t.Fatalf("rollback: canary %+v serving %d r2 %d", a.Canary, a.Status.Serving, e.rt.replicas("shop-web-r2"))
	}
}
