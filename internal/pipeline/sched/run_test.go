package sched

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline"
)

// action is one move in a scenario: a Next (with the plan it must give), a
// Finish, or a Cancel.
type action struct {
	next   *want
	finish string
	code   int
	cancel bool
	retry  bool // what Finish must answer
}

type want struct {
	start, skipped, blocked string // "a b" / "a: reason; b: reason"
}

func next(start, skipped, blocked string) action {
	return action{next: &want{start, skipped, blocked}}
}
func finish(name string, code int) action { return action{finish: name, code: code} }
func finishRetry(name string, code int) action {
	return action{finish: name, code: code, retry: true}
}

func notes(ns []Note) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = n.Name + ": " + n.Reason
	}
	return strings.Join(parts, "; ")
}

func run(name, sh string, needs ...string) pipeline.Step {
	return pipeline.Step{Name: name, Run: sh, Needs: needs}
}

func TestScenarios(t *testing.T) {
	t.Parallel()
	push := pipeline.Trigger{Event: pipeline.EventPush, Branch: "main", ChangedPaths: []string{"api/main.go"}}
	diamond := []pipeline.Step{run("a", "x"), run("b", "x", "a"), run("c", "x", "a"), run("d", "x", "b", "c")}
	tests := []struct {
		desc    string
		steps   []pipeline.Step
		trig    pipeline.Trigger
		opts    Options
		actions []action
		result  Result
	}{
		{
			desc: "diamond succeeds", steps: diamond, trig: push,
			actions: []action{
				next("a", "", "b: waiting for a; c: waiting for a; d: waiting for b, c"),
				next("", "", "b: waiting for a; c: waiting for a; d: waiting for b, c"),
				finish("a", 0),
				next("b c", "", "d: waiting for b, c"),
				finish("c", 0),
				next("", "", "d: waiting for b"),
				finish("b", 0),
				next("d", "", ""),
				finish("d", 0),
				next("", "", ""),
			},
			result: Result{Status: Succeeded},
		},
		{
			desc: "failure skips dependents, first failure's code wins", steps: diamond, trig: push,
			actions: []action{
				next("a", "", "b: waiting for a; c: waiting for a; d: waiting for b, c"),
				finish("a", 0),
				next("b c", "", "d: waiting for b, c"),
				finish("b", 3),
				next("", "d: needs b, which failed", ""),
				finish("c", 7),
				next("", "", ""),
			},
			result: Result{Status: Failed, ExitCode: 3, FailedStep: "b"},
		},
		{
			desc: "independent steps go on after a failure", trig: push,
			steps: []pipeline.Step{run("lint", "x"), run("test", "x"), run("build", "x", "test")},
			actions: []action{
				next("lint test", "", "build: waiting for test"),
				finish("lint", 1),
				next("", "", "build: waiting for test"),
				finish("test", 0),
				next("build", "", ""),
				finish("build", 0),
			},
			result: Result{Status: Failed, ExitCode: 1, FailedStep: "lint"},
		},
		{
			desc: "fail fast skips what has not started", trig: push, opts: Options{FailFast: true, Parallelism: 1},
			steps: []pipeline.Step{run("lint", "x"), run("test", "x"), run("build", "x", "test")},
			actions: []action{
				next("lint", "", "test: parallelism limit of 1 reached; build: waiting for test"),
				finish("lint", 2),
				next("", "test: the run failed at lint (fail fast); build: the run failed at lint (fail fast)", ""),
			},
			result: Result{Status: Failed, ExitCode: 2, FailedStep: "lint"},
		},
		{
			desc: "parallelism limit, approvals not counted", trig: push, opts: Options{Parallelism: 2},
			steps: []pipeline.Step{run("a", "x"), {Name: "ok", Approval: &pipeline.Approval{Role: "admin", Count: 1}}, run("b", "x"), run("c", "x")},
			actions: []action{
				next("a ok b", "", "c: parallelism limit of 2 reached"),
				finish("b", 0),
				next("c", "", ""),
				finish("a", 0), finish("c", 0), finish("ok", 0),
			},
			result: Result{Status: Succeeded},
		},
		{
			desc: "retries then success", trig: push,
			steps: []pipeline.Step{{Name: "flaky", Run: "x", Retry: 2}, run("after", "x", "flaky")},
			actions: []action{
				next("flaky", "", "after: waiting for flaky"),
				finishRetry("flaky", 1),
				next("flaky", "", "after: waiting for flaky"),
				finishRetry("flaky", 1),
				next("flaky", "", "after: waiting for flaky"),
				finish("flaky", 0),
				next("after", "", ""),
				finish("after", 0),
			},
			result: Result{Status: Succeeded},
		},
		{
			desc: "retries run out", trig: push,
			steps: []pipeline.Step{{Name: "flaky", Run: "x", Retry: 1}},
			actions: []action{
				next("flaky", "", ""),
				finishRetry("flaky", 1),
				next("flaky", "", ""),
				finish("flaky", 4),
			},
			result: Result{Status: Failed, ExitCode: 4, FailedStep: "flaky"},
		},
		{
			desc: "when skips and the skip spreads", trig: push,
			steps: []pipeline.Step{
				{Name: "web", Run: "x", When: &pipeline.When{Paths: []string{"web/**"}}},
				run("web-deploy", "x", "web"),
				{Name: "api", Run: "x", When: &pipeline.When{Paths: []string{"api/**"}}},
				{Name: "release", Run: "x", When: &pipeline.When{Tags: []string{"v*"}}},
			},
			actions: []action{
				next("api", "web: no changed path matches when.paths [web/**]; web-deploy: needs web, which was skipped; release: branch main: the step runs only for tags [v*]", ""),
				finish("api", 0),
			},
			result: Result{Status: Succeeded},
		},
		{
			desc: "cancel", steps: diamond, trig: push,
			actions: []action{
				next("a", "", "b: waiting for a; c: waiting for a; d: waiting for b, c"),
				finish("a", 0),
				next("b c", "", "d: waiting for b, c"),
				{cancel: true},
				next("", "", ""),
				finish("b", 143),
				finish("c", 0),
			},
			result: Result{Status: Cancelled},
		},
		{
			desc: "notify on failure runs after a failure", trig: push,
			steps: []pipeline.Step{
				run("test", "x"), run("deploy", "x", "test"),
				{Name: "tell", Notify: &pipeline.Notify{URL: "https://x", On: []string{"failure"}}},
			},
			actions: []action{
				next("test", "", "deploy: waiting for test; tell: waiting for test, deploy"),
				finish("test", 1),
				next("tell", "deploy: needs test, which failed", ""),
				finish("tell", 0),
			},
			result: Result{Status: Failed, ExitCode: 1, FailedStep: "test"},
		},
		{
			desc: "notify on failure is skipped on success", trig: push,
			steps: []pipeline.Step{
				run("test", "x"),
				{Name: "tell", Needs: []string{"test"}, Notify: &pipeline.Notify{URL: "https://x", On: []string{"failure"}}},
			},
			actions: []action{
				next("test", "", "tell: waiting for test"),
				finish("test", 0),
				next("", "tell: the run's outcome is success; notify only on failure", ""),
			},
			result: Result{Status: Succeeded},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			p := &pipeline.Pipeline{On: []pipeline.Event{pipeline.EventPush}, Steps: tt.steps}
			r, err := New(p, tt.trig, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range tt.actions {
				switch {
				case a.next != nil:
					pl := r.Next()
					got := fmt.Sprintf("start=%s | skipped=%s | blocked=%s", strings.Join(pl.Start, " "), notes(pl.Skipped), notes(pl.Blocked))
					w := fmt.Sprintf("start=%s | skipped=%s | blocked=%s", a.next.start, a.next.skipped, a.next.blocked)
					if got != w {
						t.Fatalf("action %d: Next\n got %s\nwant %s", i, got, w)
					}
				case a.cancel:
					r.Cancel("")
				default:
					retry, err := r.Finish(a.finish, Outcome{ExitCode: a.code})
					if err != nil || retry != a.retry {
						t.Fatalf("action %d: Finish(%s) = %v, %v; want retry %v", i, a.finish, retry, err, a.retry)
					}
				}
			}
			if !r.Done() {
				t.Fatalf("not done: %+v", r.Steps())
			}
			if got := r.Result(); got != tt.result {
				t.Errorf("Result = %+v, want %+v", got, tt.result)
			}
		})
	}
}

func TestCancelPending(t *testing.T) {
	t.Parallel()
	p := &pipeline.Pipeline{Steps: []pipeline.Step{run("a", "x"), run("b", "x", "a")}}
	r, err := New(p, pipeline.Trigger{Event: pipeline.EventManual}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	if running := r.Cancel("stopped by ann"); strings.Join(running, ",") != "a" {
		t.Fatalf("Cancel running = %v", running)
	}
	if r.Result().Status != Running {
		t.Errorf("status before a ends = %s", r.Result().Status)
	}
	if retry, err := r.Finish("a", Outcome{ExitCode: 1}); retry || err != nil {
		t.Fatalf("Finish = %v, %v", retry, err)
	}
	st := r.Steps()
	if st[0].Status != Cancelled || st[1].Status != Cancelled || st[1].Reason != "stopped by ann" {
		t.Errorf("steps = %+v", st)
	}
	if r.Result().Status != Cancelled {
		t.Errorf("result = %+v", r.Result())
	}
}

// A step's cancelled end can reach the scheduler before the run's own
// cancel does (two ready channels, either taken first): the run still ends
// cancelled, with what was pending cancelled, never as succeeded.
func TestStepCancelledBeforeRun(t *testing.T) {
	t.Parallel()
	p := &pipeline.Pipeline{Steps: []pipeline.Step{run("a", "x"), run("b", "x", "a")}}
	r, err := New(p, pipeline.Trigger{Event: pipeline.EventManual}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r.Next()
	if retry, err := r.Finish("a", Outcome{Cancelled: true, ExitCode: 143, Reason: "cancelled"}); retry || err != nil {
		t.Fatalf("Finish = %v, %v", retry, err)
	}
	st := r.Steps()
	if st[0].Status != Cancelled || st[1].Status != Cancelled {
		t.Errorf("steps = %+v", st)
	}
	if got := r.Result(); got.Status != Cancelled {
		t.Errorf("result = %+v, want cancelled", got)
	}
	if plan := r.Next(); len(plan.Start) != 0 {
		t.Errorf("a step started after the cancel: %+v", plan)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	bad := []*pipeline.Pipeline{
		{Steps: []pipeline.Step{run("a", "x", "nope")}},
		{Steps: []pipeline.Step{run("a", "x", "b"), run("b", "x", "a")}},
		{Steps: []pipeline.Step{run("a", "x", "a")}},
		{Steps: []pipeline.Step{run("a", "x"), run("a", "y")}},
	}
	for i, p := range bad {
		if _, err := New(p, pipeline.Trigger{}, Options{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: New = %v, want ErrInvalid", i, err)
		}
	}
	r, err := New(&pipeline.Pipeline{Steps: []pipeline.Step{run("a", "x")}}, pipeline.Trigger{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Finish("a", Outcome{}); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Finish before start = %v", err)
	}
	if _, err := r.Finish("zz", Outcome{}); !errors.Is(err, ErrUnknownStep) {
		t.Errorf("Finish unknown = %v", err)
	}
}
