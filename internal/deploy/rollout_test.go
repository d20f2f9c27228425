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

func TestFirstDeployAndIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	web := svc(2)
	web.Volumes = []spec.Volume{{Name: "data", Path: "/var/lib/web"}}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": web}))

	calls := e.pass("shop")
	wantCalls(t, "first pass", calls, "apply shop-web-r1 x2")
	if got := e.release("shop", 1).State; got != api.ReleaseProgressing {
		t.Fatalf("release state %q", got)
	}
	a := e.app("shop")
	if a.Status.Phase != api.PhaseProgressing || a.Status.Message != "rolling out release 1: web 0/2 ready" {
		t.Fatalf("status %q %q", a.Status.Phase, a.Status.Message)
	}
	w := e.rt.applied["shop-web-r1"]
	if w.Dir == "" || w.Volumes["data"] != "/data/volumes/shop/web/data" || w.Env["BERTH_RELEASE"] != "1" || w.Env["BERTH_APP"] != "shop" {
		t.Fatalf("workload %+v", w)
	}
	if a.Ports["web"] == 0 {
		t.Fatal("no stable port allocated")
	}

	e.rt.setReady("shop-web-r1", 1)
	wantCalls(t, "half ready", e.pass("shop"))
	e.rt.setReady("shop-web-r1", 2)
	wantCalls(t, "ready", e.pass("shop"))
	a = e.app("shop")
	if got := e.release("shop", 1).State; got != api.ReleaseDeployed {
		t.Fatalf("release state %q", got)
	}
	if a.Status.Phase != api.PhaseRunning || a.Status.Serving != 1 || a.Status.Release != 1 {
		t.Fatalf("status %+v", a.Status)
	}
	if s := a.Status.Services; len(s) != 1 || s[0].Desired != 2 || s[0].Ready != 2 || s[0].Release != 1 || len(s[0].Instances) != 2 || s[0].Address == "" || s[0].Limits != "enforced" {
		t.Fatalf("services %+v", s)
	}
	if eps := e.px.endpoints("shop", "web"); len(eps) != 2 {
		t.Fatalf("proxy endpoints %v", eps)
	}

	// Nothing changed: a pass makes no runtime change and no store write.
	before := e.st.writes.Load()
	for range 2 {
		wantCalls(t, "steady", e.pass("shop"))
	}
	if n := e.st.writes.Load() - before; n != 0 {
		t.Fatalf("%d store writes in steady passes", n)
	}
	if e.app("shop").Ports["web"] != a.Ports["web"] {
		t.Fatal("port changed")
	}
}

func TestRollingUpdateSequence(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")

	v2 := svc(2)
	v2.Env = map[string]string{"VERSION": "2"}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": v2}))

	type step struct {
		desc  string
		ready int // ready instances of r2 before the pass
		calls []string
		r1    int // replicas after the pass; -1 gone
		r2    int
	}
	steps := []step{
		{desc: "surge one new", ready: 0, calls: []string{"apply shop-web-r2 x1"}, r1: 2, r2: 1},
		{desc: "new not ready: wait", ready: 0, r1: 2, r2: 1},
		{desc: "one new ready: swap one", ready: 1, calls: []string{"apply shop-web-r1 x1", "apply shop-web-r2 x2"}, r1: 1, r2: 2},
		{desc: "second not ready: wait", ready: 1, r1: 1, r2: 2},
		{desc: "all new ready: old gone", ready: 2, calls: []string{"delete shop-web-r1"}, r1: -1, r2: 2},
		{desc: "done", ready: 2, r1: -1, r2: 2},
	}
	for _, s := range steps {
		e.rt.setReady("shop-web-r2", s.ready)
		wantCalls(t, s.desc, e.pass("shop"), s.calls...)
		if r1, r2 := e.rt.replicas("shop-web-r1"), e.rt.replicas("shop-web-r2"); r1 != s.r1 || r2 != s.r2 {
			t.Fatalf("%s: replicas r1=%d r2=%d, want %d %d", s.desc, r1, r2, s.r1, s.r2)
		}
		if s.desc == "one new ready: swap one" {
			// Old #0 and new #0: old #1, being stopped, left the rotation
			// before the runtime was told to stop it.
			if eps := e.px.endpoints("shop", "web"); len(eps) != 2 {
				t.Fatalf("endpoints during the swap %v, want old #0 and new #0", eps)
			}
		}
	}
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("release states %v", got)
	}
	a := e.app("shop")
	if a.Status.Phase != api.PhaseRunning || a.Status.Serving != 2 {
		t.Fatalf("status %+v", a.Status)
	}
	if w := e.rt.applied["shop-web-r2"]; w.Env["BERTH_RELEASE"] != "2" || w.Spec.Env["VERSION"] != "2" {
		t.Fatalf("new workload %+v", w)
	}
}

func TestRollingWithSurgeTwo(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(3)}))
	e.settle("shop")
	a := appSpec("shop", map[string]*spec.Service{"web": svc(3)})
	a.Services["web"].Env = map[string]string{"V": "2"}
	a.Strategy.MaxSurge = 2
	e.apply(a)
	wantCalls(t, "surge two", e.pass("shop"), "apply shop-web-r2 x2")
	e.rt.setReady("shop-web-r2", 2)
	wantCalls(t, "two ready", e.pass("shop"), "apply shop-web-r1 x1", "apply shop-web-r2 x3")
	e.rt.setReady("shop-web-r2", 3)
	wantCalls(t, "all ready", e.pass("shop"), "delete shop-web-r1")
}

func TestRecreate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2), "db": svc(1)}))
	e.settle("shop")
	e.rt.slowDelete = true

	a := appSpec("shop", map[string]*spec.Service{"web": svc(2, "db"), "db": svc(1)})
	a.Strategy.Type = spec.StrategyRecreate
	e.apply(a)
	wantCalls(t, "stop old", e.pass("shop"), "delete shop-db-r1", "delete shop-web-r1")
	if eps := e.px.endpoints("shop", "web"); len(eps) != 0 {
		t.Fatalf("stopping instances still get traffic: %v", eps)
	}
	// Old instances still stopping: nothing new starts.
	calls := e.pass("shop")
	for _, c := range calls {
		if strings.HasPrefix(c, "apply") {
			t.Fatalf("applied while old instances stop: %v", calls)
		}
	}
	e.rt.finishDeletes()
	wantCalls(t, "start new, deps first", e.pass("shop"), "apply shop-db-r2 x1")
	e.rt.setReady("shop-db-r2", 1)
	wantCalls(t, "then dependents", e.pass("shop"), "apply shop-web-r2 x2")
	e.rt.setReady("shop-web-r2", 2)
	wantCalls(t, "done", e.pass("shop"))
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("release states %v", got)
	}
}

func TestDependencyOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{
		"web":     svc(1, "api"),
		"api":     svc(2, "user-db"),
		"user-db": svc(1),
	}))
	wantCalls(t, "db first", e.pass("shop"), "apply shop-user-db-r1 x1")
	a := e.app("shop")
	if a.Status.Message != "rolling out release 1: user-db 0/1 ready, api waiting for user-db, web waiting for api" {
		t.Fatalf("message %q", a.Status.Message)
	}
	e.rt.setReady("shop-user-db-r1", 1)
	wantCalls(t, "api next", e.pass("shop"), "apply shop-api-r1 x2")
	e.rt.setReady("shop-api-r1", 1)
	wantCalls(t, "api half ready: web waits", e.pass("shop"))
	e.rt.setReady("shop-api-r1", 2)
	wantCalls(t, "web last", e.pass("shop"), "apply shop-web-r1 x1")

	ports := e.app("shop").Ports
	env := e.rt.applied["shop-api-r1"].Env
	want := "127.0.0.1:" + itoa(ports["user-db"])
	if env["USER_DB_ADDR"] != want || env["USER_DB_URL"] != "http://"+want || env["BERTH_SERVICE"] != "api" {
		t.Fatalf("api env %v, want USER_DB_ADDR=%s", env, want)
	}
	if _, ok := e.rt.applied["shop-web-r1"].Env["USER_DB_ADDR"]; ok {
		t.Fatal("web got the address of a service it does not depend on")
	}
	e.rt.readyAll()
	e.settle("shop")

	// An update waits for each dependency's new release too.
	e.apply(appSpec("shop", map[string]*spec.Service{
		"web":     svc(1, "api"),
		"api":     svc(2, "user-db"),
		"user-db": {Command: []string{"./db", "--v2"}, Replicas: ptr(1)},
	}))
	wantCalls(t, "update db first", e.pass("shop"), "apply shop-user-db-r2 x1")
	e.rt.setReady("shop-user-db-r2", 1)
	wantCalls(t, "update api after db", e.pass("shop"), "delete shop-user-db-r1", "apply shop-api-r2 x1")
}

func TestReplicasZeroAndRemovedServices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1), "worker": svc(0), "old": svc(1)}))
	e.settle("shop")
	if e.rt.replicas("shop-worker-r1") != -1 {
		t.Fatal("replicas 0 service has a workload")
	}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	wantCalls(t, "new web", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.setReady("shop-web-r2", 1)
	wantCalls(t, "old web goes", e.pass("shop"), "delete shop-web-r1")
	wantCalls(t, "dropped service goes last", e.pass("shop"), "delete shop-old-r1")
	wantCalls(t, "done", e.pass("shop"))
	if got := e.release("shop", 2).State; got != api.ReleaseDeployed {
		t.Fatalf("state %q", got)
	}
}

func TestCrashLoopFailsAndRestoresOld(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"api": svc(2)}))
	e.settle("shop")
	bad := svc(2)
	bad.Env = map[string]string{"BROKEN": "1"}
	e.apply(appSpec("shop", map[string]*spec.Service{"api": bad}))
	e.pass("shop")
	e.rt.setReady("shop-api-r2", 1)
	wantCalls(t, "half way", e.pass("shop"), "apply shop-api-r1 x1", "apply shop-api-r2 x2")

	// The second new instance crash-loops.
	e.rt.edit("shop-api-r2", func(i int, in *runtime.Instance) {
		if i == 1 {
			in.State, in.Ready, in.Restarts = runtime.StateBackoff, false, 3
			in.LastExit = &runtime.Exit{Code: 3, LogTail: []string{"starting", "panic: no database", ""}}
		}
	})
	wantCalls(t, "fail and restore", e.pass("shop"), "delete shop-api-r2", "apply shop-api-r1 x2")
	rel := e.release("shop", 2)
	wantMsg := "service api: exited with code 3 after 3 restarts; last output: starting | panic: no database"
	if rel.State != api.ReleaseFailed || rel.Reason != ReasonCrashLoop || rel.Message != wantMsg {
		t.Fatalf("release %s %s %q", rel.State, rel.Reason, rel.Message)
	}
	if eps := e.px.endpoints("shop", "api"); len(eps) != 1 || !strings.Contains(strings.Join(eps, ","), ":") {
		t.Fatalf("endpoints %v, want the one old instance", eps)
	}
	a := e.app("shop")
	if a.Status.Phase != api.PhaseFailed || a.Status.Serving != 1 || a.Status.Release != 2 {
		t.Fatalf("status %+v", a.Status)
	}
	if c := condition(a.Status, api.ConditionFailed); c.Status != "True" || c.Reason != ReasonCrashLoop || c.Message != wantMsg {
		t.Fatalf("failed condition %+v", c)
	}
	if c := serviceCondition(t, a.Status, "api", api.ConditionFailed); c.Status != "True" || c.Reason != ReasonCrashLoop {
		t.Fatalf("service api failed condition %+v", c)
	}
	e.rt.readyAll()
	e.pass("shop")
	// No retry loop: the failed release is left alone.
	for range 3 {
		wantCalls(t, "after failure", e.pass("shop"))
	}
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseDeployed, api.ReleaseFailed}) {
		t.Fatalf("states %v", got)
	}
	if c := condition(e.app("shop").Status, api.ConditionAvailable); c.Status != "True" {
		t.Fatalf("available %+v", c)
	}

	// Instance state failed counts at once, whatever the restarts.
	fixed := svc(2)
	fixed.Env = map[string]string{"FIXED": "1"}
	e.apply(appSpec("shop", map[string]*spec.Service{"api": fixed}))
	e.pass("shop")
	e.rt.edit("shop-api-r3", func(i int, in *runtime.Instance) {
		in.State, in.Message = runtime.StateFailed, "command not found: ./run"
	})
	wantCalls(t, "failed state", e.pass("shop"), "delete shop-api-r3")
	if rel := e.release("shop", 3); rel.Reason != ReasonCrashLoop || !strings.Contains(rel.Message, "command not found") {
		t.Fatalf("release 3 %+v", rel)
	}
}

func TestFirstReleaseFailsWithNothingToRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"api": svc(1)}))
	e.pass("shop")
	e.rt.edit("shop-api-r1", func(i int, in *runtime.Instance) {
		in.Restarts, in.LastExit = 5, &runtime.Exit{Code: 1}
	})
	wantCalls(t, "fail", e.pass("shop"), "delete shop-api-r1")
	a := e.app("shop")
	if a.Status.Phase != api.PhaseFailed || a.Status.Serving != 0 {
		t.Fatalf("status %+v", a.Status)
	}
	if c := condition(a.Status, api.ConditionAvailable); c.Status != "False" {
		t.Fatalf("available %+v", c)
	}
	wantCalls(t, "stays down", e.pass("shop"))
}

func TestProgressDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")

	a := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	a.Services["web"].Env = map[string]string{"V": "2"}
	a.Strategy.ProgressDeadline = spec.Duration(30 * time.Second)
	e.apply(a)
	wantCalls(t, "start", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.edit("shop-web-r2", func(i int, in *runtime.Instance) {
		in.State, in.Message = runtime.StateUnhealthy, "health check GET /healthz: status 503"
	})
	e.clock.Advance(29 * time.Second)
	wantCalls(t, "before the deadline", e.pass("shop"))
	e.clock.Advance(2 * time.Second)
	wantCalls(t, "past the deadline", e.pass("shop"), "delete shop-web-r2")
	rel := e.release("shop", 2)
	if rel.State != api.ReleaseFailed || rel.Reason != ReasonProgressDeadline ||
		rel.Message != "service web: 0/1 ready after 30s: health check GET /healthz: status 503" {
		t.Fatalf("release %s %s %q", rel.State, rel.Reason, rel.Message)
	}
	if e.rt.replicas("shop-web-r1") != 1 {
		t.Fatal("old release not kept")
	}
	if st := e.app("shop").Status; st.Phase != api.PhaseFailed || st.Serving != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestDeadlineWhenRuntimeRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.rt.applyErr["shop-web-r1"] = errString("local runtime: invalid workload: workload.spec.command: required")
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	if _, err := e.r.Reconcile(e.ctx, "shop"); err == nil || !strings.Contains(err.Error(), "invalid workload") {
		t.Fatalf("err = %v", err)
	}
	if st := e.app("shop").Status; !strings.Contains(st.Message, "web refused by the runtime: local runtime: invalid workload") {
		t.Fatalf("status message %q", st.Message)
	}
	e.clock.Advance(3 * time.Minute) // the default deadline is 2m
	e.r.Reconcile(e.ctx, "shop")
	rel := e.release("shop", 1)
	if rel.Reason != ReasonProgressDeadline || !strings.Contains(rel.Message, "the runtime refused it: local runtime: invalid workload") {
		t.Fatalf("release %s %q", rel.Reason, rel.Message)
	}
}

func TestBuildFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.b.fail["api"] = buildErr(2, "go: downloading", "main.go:3:2: undefined: x")
	api1 := svc(1)
	api1.Build = "go build ./..."
	e.apply(appSpec("shop", map[string]*spec.Service{"api": api1, "web": svc(1, "api")}))
	wantCalls(t, "build fails", e.pass("shop"))
	rel := e.release("shop", 1)
	if rel.State != api.ReleaseFailed || rel.Reason != ReasonBuildFailed ||
		rel.Message != "service api: build failed with exit code 2; last output: go: downloading | main.go:3:2: undefined: x" {
		t.Fatalf("release %s %s %q", rel.State, rel.Reason, rel.Message)
	}
	if st := e.app("shop").Status; st.Phase != api.PhaseFailed {
		t.Fatalf("status %+v", st)
	}
	n := e.b.count()
	wantCalls(t, "no retry", e.pass("shop"))
	if e.b.count() != n {
		t.Fatal("build retried")
	}
}

func TestBuildsOnceAndStoresArtifacts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	web := svc(1)
	web.Build, web.Dir = "make", "web"
	e.apply(appSpec("shop", map[string]*spec.Service{"web": web, "db": svc(1)}))
	e.settle("shop")
	rel := e.release("shop", 1)
	if len(rel.Artifacts) != 2 || rel.Artifacts["web"].BuildKey == "" || !strings.HasSuffix(rel.Artifacts["web"].Dir, "/web") {
		t.Fatalf("artifacts %+v", rel.Artifacts)
	}
	if e.b.count() != 2 {
		t.Fatalf("%d builds", e.b.count())
	}
	if e.b.reqs[1].Command != "make" || e.b.reqs[1].Dir != "web" || e.b.reqs[1].App != "shop" {
		t.Fatalf("request %+v", e.b.reqs[1])
	}
	if got := e.rt.applied["shop-web-r1"].Dir; got != rel.Artifacts["web"].Dir {
		t.Fatalf("workload dir %q", got)
	}
	e.pass("shop")
	if e.b.count() != 2 {
		t.Fatal("built again")
	}
}

func TestRollbackAsNewRelease(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v1 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	e.apply(v1)
	e.settle("shop")
	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v2.Services["web"].Env = map[string]string{"V": "2"}
	e.apply(v2)
	e.settle("shop")

	e.createRelease(v1, "rollback", 1)
	wantCalls(t, "roll back", e.pass("shop"), "apply shop-web-r3 x1")
	e.rt.setReady("shop-web-r3", 1)
	wantCalls(t, "old gone", e.pass("shop"), "delete shop-web-r2")
	e.pass("shop")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("states %v", got)
	}
	if w := e.rt.applied["shop-web-r3"]; w.Spec.Env["V"] != "" {
		t.Fatalf("rollback runs the v2 spec: %+v", w.Spec)
	}
	if e.app("shop").Status.Serving != 3 {
		t.Fatal("serving")
	}
}

func TestNewerApplySupersedesUnfinished(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v2.Services["web"].Env = map[string]string{"V": "2"}
	e.apply(v2)
	e.pass("shop") // r2 rolling out, never ready
	v3 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v3.Services["web"].Env = map[string]string{"V": "3"}
	e.apply(v3)
	// r3's surge slot comes from r2, which never served: r1 keeps serving.
	wantCalls(t, "r3 replaces unready r2", e.pass("shop"), "delete shop-web-r2", "apply shop-web-r3 x1")
	e.rt.setReady("shop-web-r3", 1)
	wantCalls(t, "r1 goes", e.pass("shop"), "delete shop-web-r1")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseDeployed, api.ReleaseSuperseded, api.ReleaseProgressing}) {
		t.Fatalf("states %v", got)
	}
	e.pass("shop")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseSuperseded, api.ReleaseDeployed}) {
		t.Fatalf("states %v", got)
	}
	if r2 := e.release("shop", 2); r2.Reason != ReasonReplaced {
		t.Fatalf("release 2 %+v", r2)
	}
}

func TestDegradedAfterDeploy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")
	ran := e.app("shop").Status
	e.rt.edit("shop-web-r1", func(i int, in *runtime.Instance) {
		if i == 0 {
			in.Ready, in.State, in.Message = false, runtime.StateUnhealthy, "health check: connection refused"
		}
	})
	e.clock.Advance(time.Minute)
	wantCalls(t, "degraded", e.pass("shop"))
	st := e.app("shop").Status
	if st.Phase != api.PhaseDegraded || st.Message != "service web: 1/2 ready: health check: connection refused" {
		t.Fatalf("status %q %q", st.Phase, st.Message)
	}
	if c := condition(st, api.ConditionDegraded); c.Status != "True" || !c.LastTransitionTime.Equal(e.clock.Now()) {
		t.Fatalf("degraded condition %+v", c)
	}
	if c := serviceCondition(t, st, "web", api.ConditionDegraded); c.Status != "True" || c.Message != "1/2 ready: health check: connection refused" {
		t.Fatalf("service web degraded condition %+v", c)
	}
	// Unchanged conditions keep their transition time.
	if c, was := condition(st, api.ConditionAvailable), condition(ran, api.ConditionAvailable); !c.LastTransitionTime.Equal(was.LastTransitionTime) {
		t.Fatalf("available moved from %v to %v", was.LastTransitionTime, c.LastTransitionTime)
	}
	if eps := e.px.endpoints("shop", "web"); len(eps) != 1 {
		t.Fatalf("endpoints %v", eps)
	}
	if got := e.release("shop", 1).State; got != api.ReleaseDeployed {
		t.Fatal("a deployed release must not fail later")
	}
	e.rt.readyAll()
	e.pass("shop")
	if st := e.app("shop").Status; st.Phase != api.PhaseRunning {
		t.Fatalf("status %+v", st)
	}
}

func TestStatusEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	statuses := e.events(api.EventAppStatus)
	if len(statuses) == 0 {
		t.Fatal("no app.status events")
	}
	last := statuses[len(statuses)-1]
	if !strings.Contains(string(last.Data), `"phase":"Running"`) || last.Release != 1 {
		t.Fatalf("last status event %+v %s", last, last.Data)
	}
	rels := e.events(api.EventReleaseUpdated)
	var states []string
	for _, ev := range rels {
		for _, s := range []string{api.ReleaseProgressing, api.ReleaseDeployed} {
			if strings.Contains(string(ev.Data), `"state":"`+s+`"`) {
				states = append(states, s)
			}
		}
	}
	if !slices.Contains(states, api.ReleaseProgressing) || states[len(states)-1] != api.ReleaseDeployed {
		t.Fatalf("release events %v", states)
	}
	// The app record changed with each status event.
	if a := e.app("shop"); a.Status.ObservedAt.IsZero() {
		t.Fatal("no observed_at")
	}
}

func TestUnreadableServingReleaseChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	// Release 2 is deployed but its spec cannot be decoded (say, written by
	// a newer server): the reconciler must not read that as "run nothing".
	now := e.clock.Now()
	if err := e.st.CreateRelease(e.ctx, store.Release{
		App: "shop", Number: 2, Spec: []byte(`{"name":"shop","services":{"web":{"replicas":"two"}}}`),
		SpecHash: "x", Cause: "apply", State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now,
	}); err != nil {
		t.Fatal(err)
	}
	a := e.app("shop")
	a.LatestRelease, a.TargetRelease = 2, 2
	if _, err := e.st.UpdateApp(e.ctx, a); err != nil {
		t.Fatal(err)
	}
	e.rt.takeCalls()
	if _, err := e.r.Reconcile(e.ctx, "shop"); err == nil || !strings.Contains(err.Error(), "release 2") {
		t.Fatalf("err = %v", err)
	}
	wantCalls(t, "unreadable", e.rt.takeCalls())
}

// serviceCondition finds one condition of one service in st.
func serviceCondition(t *testing.T, st api.AppStatus, svc, typ string) api.Condition {
	t.Helper()
	for _, ss := range st.Services {
		if ss.Name != svc {
			continue
		}
		for _, c := range ss.Conditions {
			if c.Type == typ {
				return c
			}
		}
	}
	t.Fatalf("service %s has no %s condition in %+v", svc, typ, st.Services)
	return api.Condition{}
}

// TestFinishedRolloutReplacedIsServing: a newer apply that lands after the
// last old instance stopped, but before the pass that would mark the
// release deployed, leaves that release serving: it is what runs. A failure
// of the newer release returns to it, not to the release before it (which
// no longer runs, and would have to start from nothing).
func TestFinishedRolloutReplacedIsServing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v2.Services["web"].Env = map[string]string{"V": "2"}
	e.apply(v2)
	wantCalls(t, "surge", e.pass("shop"), "apply shop-web-r2 x1")
	e.rt.setReady("shop-web-r2", 1)
	wantCalls(t, "old stops", e.pass("shop"), "delete shop-web-r1")

	v3 := appSpec("shop", map[string]*spec.Service{"web": svc(1)})
	v3.Services["web"].Env = map[string]string{"V": "3"}
	e.apply(v3)
	wantCalls(t, "release 3 starts", e.pass("shop"), "apply shop-web-r3 x1")
	if got := e.states("shop"); !slices.Equal(got, []string{api.ReleaseSuperseded, api.ReleaseDeployed, api.ReleaseProgressing}) {
		t.Fatalf("states %v", got)
	}
	if st := e.app("shop").Status; st.Serving != 2 {
		t.Fatalf("serving %d, want 2", st.Serving)
	}
	e.rt.edit("shop-web-r3", func(i int, in *runtime.Instance) {
		in.Restarts, in.LastExit = 5, &runtime.Exit{Code: 1}
	})
	wantCalls(t, "release 3 fails: release 2 keeps running", e.pass("shop"), "delete shop-web-r3")
}
