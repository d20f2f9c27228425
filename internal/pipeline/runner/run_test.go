package runner

import (
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/store"
)

// setup makes a repository holding berth.yaml and the pipeline, an app on
// it in team_a, and returns the env and repo.
func setup(t *testing.T, app, pipelineYAML string, o envOpts) (*env, *repo) {
	t.Helper()
	e := newEnv(t, o)
	rp := newRepo(t, app)
	rp.commit(map[string]string{"berth.yaml": appSpec(app, rp.URL), ".berth/pipeline.yaml": pipelineYAML}, "initial")
	e.addApp(app, "team_a", rp)
	return e, rp
}

func (e *env) manual(app string, params map[string]string) store.Run {
	e.t.Helper()
	run, err := e.r.Start(e.t.Context(), StartRequest{App: app, Trigger: pipeline.EventManual, Params: params, By: "tester"})
	if err != nil {
		e.t.Fatal(err)
	}
	return run
}

func TestDAGRunsParallelBranches(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "dag", `on: [manual]
steps:
  - name: a
    run: echo a
  - name: b
    needs: [a]
    run: sleep 0.5; echo b
  - name: c
    needs: [a]
    run: sleep 0.5; echo c
  - name: d
    needs: [b, c]
    run: echo d
`, envOpts{})
	run := e.waitEnd(e.manual("dag", nil).ID)
	if run.State != store.RunSucceeded {
		t.Fatalf("state %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
	}
	a, b, c, d := stepOf(run, "a"), stepOf(run, "b"), stepOf(run, "c"), stepOf(run, "d")
	for _, s := range []store.RunStep{a, b, c, d} {
		if s.Status != "success" || s.Attempt != 1 || s.StartedAt.IsZero() || s.FinishedAt.IsZero() {
			t.Errorf("step %+v", s)
		}
	}
	if !(b.StartedAt.Before(c.FinishedAt) && c.StartedAt.Before(b.FinishedAt)) {
		t.Errorf("b [%v, %v] and c [%v, %v] did not overlap", b.StartedAt, b.FinishedAt, c.StartedAt, c.FinishedAt)
	}
	if b.StartedAt.Before(a.FinishedAt) || d.StartedAt.Before(b.FinishedAt) || d.StartedAt.Before(c.FinishedAt) {
		t.Errorf("needs not respected: a ends %v, b starts %v, d starts %v", a.FinishedAt, b.StartedAt, d.StartedAt)
	}
	log := e.log(run.ID)
	for _, want := range []string{"[a] a\n", "[b] b\n", "[c] c\n", "[d] d\n"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

func TestFailingStepFailsRunWithExitCode(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "fail", `on: [manual]
steps:
  - name: ok
    run: "true"
  - name: bad
    needs: [ok]
    run: echo boom; exit 7
  - name: after
    needs: [bad]
    run: echo never
  - name: lint
    run: echo linted
`, envOpts{})
	run := e.waitEnd(e.manual("fail", nil).ID)
	if run.State != store.RunFailed || run.ExitCode != 7 || !strings.Contains(run.Reason, "step bad failed") {
		t.Fatalf("run = %s exit %d (%s)", run.State, run.ExitCode, run.Reason)
	}
	if s := stepOf(run, "bad"); s.Status != "failure" || s.ExitCode != 7 {
		t.Errorf("bad = %+v", s)
	}
	if s := stepOf(run, "after"); s.Status != "skipped" || s.Reason != "needs bad, which failed" {
		t.Errorf("after = %+v", s)
	}
	if s := stepOf(run, "lint"); s.Status != "success" {
		t.Errorf("independent step lint = %+v", s)
	}
	if log := e.log(run.ID); strings.Contains(log, "never") || !strings.Contains(log, "[bad] boom") {
		t.Errorf("log:\n%s", log)
	}
}

func TestCancelKillsTheStepsProcessGroup(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "cancel", `on: [manual]
steps:
  - name: long
    run: sleep 300 & echo "bg=$!"; sleep 300
  - name: later
    needs: [long]
    run: echo never
`, envOpts{})
	id := e.manual("cancel", nil).ID
	re := regexp.MustCompile(`bg=(\d+)`)
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		if m := re.FindStringSubmatch(e.log(id)); m != nil {
			pid, _ = strconv.Atoi(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("the step never printed its background PID:\n%s", e.log(id))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("background sleep %d is not running before cancel: %v", pid, err)
	}
	if _, err := e.r.Cancel(t.Context(), id, "tester"); err != nil {
		t.Fatal(err)
	}
	run := e.waitEnd(id)
	if run.State != store.RunCancelled || !strings.Contains(run.Reason, "cancelled by tester") {
		t.Errorf("run = %s (%s)", run.State, run.Reason)
	}
	if s := stepOf(run, "long"); s.Status != "cancelled" {
		t.Errorf("long = %+v", s)
	}
	if s := stepOf(run, "later"); s.Status != "cancelled" {
		t.Errorf("later = %+v", s)
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(pid, 0) == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("the step's background process %d outlived the cancel", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.r.Cancel(t.Context(), id, "tester"); !errors.Is(err, pipeline.ErrRunEnded) {
		t.Errorf("cancel of an ended run = %v, want ErrRunEnded", err)
	}
}

func TestApprovalGate(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "gate", `on: [manual]
steps:
  - name: build
    run: echo built
  - name: approve
    needs: [build]
    approval: {role: admin, count: 1, timeout: 1h}
  - name: ship
    needs: [approve]
    run: echo shipped
`, envOpts{})
	dev := rbac.Principal{Subject: "u-dev", Teams: map[string]rbac.Role{"team_a": rbac.RoleDeveloper}}
	admin := rbac.Principal{Subject: "u-admin", Teams: map[string]rbac.Role{"team_a": rbac.RoleAdmin}}
	owner := rbac.Principal{Subject: "u-owner", Teams: map[string]rbac.Role{"team_a": rbac.RoleOwner}}
	ctx := t.Context()

	id := e.manual("gate", nil).ID
	e.waitRun(id, "approval waiting", func(r store.Run) bool { return stepOf(r, "approve").Status == "running" })
	time.Sleep(300 * time.Millisecond)
	if run, _ := e.st.GetRun(ctx, id); stepOf(run, "ship").Status != "pending" || run.State != store.RunRunning {
		t.Fatalf("the gate did not hold: %+v", run)
	}
	if _, err := e.r.Decide(ctx, dev, id, store.DecisionApprove, ""); !errors.Is(err, pipeline.ErrNotApprover) {
		t.Errorf("developer approving an admin gate = %v, want ErrNotApprover", err)
	}
	if _, err := e.r.Decide(ctx, admin, id, store.DecisionApprove, "ship it"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Decide(ctx, admin, id, store.DecisionApprove, "again"); err != nil && !errors.Is(err, pipeline.ErrDecided) && !errors.Is(err, pipeline.ErrNoApproval) && !errors.Is(err, pipeline.ErrRunEnded) {
		t.Errorf("second decision = %v", err)
	}
	run := e.waitEnd(id)
	if run.State != store.RunSucceeded || stepOf(run, "ship").Status != "success" {
		t.Fatalf("run = %s (%s)\n%s", run.State, run.Reason, e.log(id))
	}
	if s := stepOf(run, "approve"); !strings.Contains(s.Reason, `approved by u-admin ("ship it")`) {
		t.Errorf("approve step reason %q", s.Reason)
	}
	approvals, err := e.st.ListApprovals(ctx, id)
	if err != nil || len(approvals) != 1 || approvals[0].Who != "u-admin" || approvals[0].Comment != "ship it" || approvals[0].Time.IsZero() {
		t.Errorf("approvals = %+v, %v", approvals, err)
	}

	// A rejection fails the run, and nothing after the gate runs.
	id2 := e.manual("gate", nil).ID
	e.waitRun(id2, "approval waiting", func(r store.Run) bool { return stepOf(r, "approve").Status == "running" })
	if _, err := e.r.Decide(ctx, owner, id2, store.DecisionReject, "not today"); err != nil {
		t.Fatal(err)
	}
	run = e.waitEnd(id2)
	if run.State != store.RunFailed || !strings.Contains(run.Reason, `rejected by u-owner ("not today")`) || stepOf(run, "ship").Status != "skipped" {
		t.Errorf("rejected run = %s (%s), ship %+v", run.State, run.Reason, stepOf(run, "ship"))
	}
}

func TestSecretsAreMaskedInStoredAndStreamedLogs(t *testing.T) {
	t.Parallel()
	const secret = "hunter2-very-secret"
	e, _ := setup(t, "masked", `on: [manual]
steps:
  - name: leak
    secrets: [API_TOKEN]
    run: |
      printf 'split: hunter2-'; sleep 0.3; printf 'very-secret\n'
      echo "whole: $API_TOKEN"
      echo "$API_TOKEN" >&2
      test "$API_TOKEN" = hunter2-very-secret
`, envOpts{secrets: mapSecrets{"API_TOKEN": secret}})
	id := e.manual("masked", nil).ID
	rc, err := e.r.Logs(t.Context(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	streamed, err := io.ReadAll(rc) // follows until the run ends
	if err != nil {
		t.Fatal(err)
	}
	run := e.waitEnd(id)
	if run.State != store.RunSucceeded {
		t.Fatalf("run = %s (%s): the step did not get the secret\n%s", run.State, run.Reason, e.log(id))
	}
	stored := e.log(id)
	for name, text := range map[string]string{"stored": stored, "streamed": string(streamed)} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "very-secret") {
			t.Errorf("%s log shows the secret:\n%s", name, text)
		}
		for _, want := range []string{"[leak] split: ***", "[leak] whole: ***", "[leak] ***"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s log lacks %q:\n%s", name, want, text)
			}
		}
	}
}

func TestSecretWithoutSecretStoreFailsClearly(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "nosecret", `on: [manual]
steps:
  - name: deploy-key
    secrets: [DEPLOY_KEY]
    run: echo "$DEPLOY_KEY"
`, envOpts{})
	run := e.waitEnd(e.manual("nosecret", nil).ID)
	if run.State != store.RunFailed || !strings.Contains(run.Reason, "no secret store") || !strings.Contains(run.Reason, "DEPLOY_KEY") {
		t.Errorf("run = %s (%s)", run.State, run.Reason)
	}
}

func TestStepCannotReadTheDataDirectory(t *testing.T) {
	t.Parallel()
	if syscall.Geteuid() != 0 {
		t.Skip("steps run as an unprivileged user only when the server is root; as another user they can read its data directory (documented)")
	}
	e, _ := setup(t, "snoop", `on: [manual]
params:
  - {name: DATA, required: true}
steps:
  - name: snoop
    run: id; cat "$DATA/berth.db" > /dev/null
  - name: list
    run: ls "$DATA"
`, envOpts{})
	run := e.waitEnd(e.manual("snoop", map[string]string{"DATA": e.dataDir}).ID)
	if run.State != store.RunFailed {
		t.Fatalf("run = %s (%s)", run.State, run.Reason)
	}
	for _, name := range []string{"snoop", "list"} {
		if s := stepOf(run, name); s.Status != "failure" || s.ExitCode == 0 {
			t.Errorf("%s = %+v", name, s)
		}
	}
	if log := e.log(run.ID); !strings.Contains(log, "Permission denied") || !strings.Contains(log, "[snoop] uid=65534") {
		t.Errorf("log:\n%s", log)
	}
}

func TestBadPipelineFileGivesFieldPaths(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "badfile", `on: [manual]
steps:
  - name: test
    rnu: go test ./...
  - name: build
    needs: [tset]
    run: make
`, envOpts{})
	run := e.waitEnd(e.manual("badfile", nil).ID)
	if run.State != store.RunFailed || !strings.Contains(run.Reason, "steps[0].rnu: unknown field") || !strings.Contains(run.Reason, `steps[1].needs[0]: unknown step "tset"`) {
		t.Errorf("run = %s (%s)", run.State, run.Reason)
	}
	if log := e.log(run.ID); !strings.Contains(log, ".berth/pipeline.yaml:4: steps[0].rnu") {
		t.Errorf("log lacks the line and field path:\n%s", log)
	}
	if len(run.Steps) != 0 {
		t.Errorf("steps of an invalid pipeline: %+v", run.Steps)
	}
}

func TestRestartMidRun(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "restart", `on: [manual]
steps:
  - name: build
    run: sleep 300
`, envOpts{noStart: true})
	ctx := t.Context()
	// A server that died (kill -9) while step build ran: the store says
	// running, and no process drives it.
	crashed := e.manual("restart", nil)
	crashed, err := e.r.update(ctx, crashed.ID, func(r *store.Run) error {
		r.State, r.StartedAt = store.RunRunning, time.Now()
		r.Steps = []store.RunStep{{Name: "build", Kind: "run", Status: "running", Attempt: 1, StartedAt: time.Now()}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The dead server's step, still running in its own process group.
	orphan := exec.Command("sh", "-c", "sleep 300 & sleep 300")
	orphan.Env = []string{"PATH=/usr/bin:/bin", "BERTH_RUN=" + crashed.ID, "BERTH_WORKSPACE=" + filepath.Join(e.r.opts.WorkDir, crashed.ID)}
	orphan.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	reaped := make(chan error, 1)
	go func() { reaped <- orphan.Wait() }()
	t.Cleanup(func() { _ = syscall.Kill(-orphan.Process.Pid, syscall.SIGKILL) })
	// A run queued before the restart is started after it.
	queued := e.manual("restart", nil)
	e.start()
	run := e.waitEnd(crashed.ID)
	if run.State != store.RunFailed || !strings.Contains(run.Reason, "the server restarted during the run (step build was running)") ||
		!strings.Contains(run.Reason, "berth run rerun restart.1") {
		t.Errorf("interrupted run = %s (%s)", run.State, run.Reason)
	}
	if s := stepOf(run, "build"); s.Status != "failure" || !strings.Contains(s.Reason, "server restarted") {
		t.Errorf("interrupted step = %+v", s)
	}
	select {
	case <-reaped:
	case <-time.After(10 * time.Second):
		t.Error("the interrupted run's leftover step process was not killed")
	}
	e.waitRun(queued.ID, "resumed", func(r store.Run) bool { return stepOf(r, "build").Status == "running" })

	// A graceful stop mid-run marks the run with the reason, never leaves
	// it running.
	e.stop()
	run, err = e.st.GetRun(ctx, queued.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.State != store.RunFailed || !strings.Contains(run.Reason, "the server stopped during the run") {
		t.Errorf("run stopped with the server = %s (%s)", run.State, run.Reason)
	}
	// And a rerun after the restart runs the same commit.
	e.start()
	again, err := e.r.Rerun(ctx, queued.ID, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if again.Commit != run.Commit || again.RerunOf != queued.ID {
		t.Errorf("rerun = %+v", again)
	}
	e.waitRun(again.ID, "running", func(r store.Run) bool { return r.State == store.RunRunning })
	if _, err := e.r.Cancel(ctx, again.ID, "tester"); err != nil {
		t.Fatal(err)
	}
	e.waitEnd(again.ID)
}

func TestQueueLimitsPerPipeline(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "limited", `on: [manual]
steps:
  - name: wait
    run: sleep 0.4
`, envOpts{tweak: func(o *Options) { o.PerPipeline = 1 }})
	a, b := e.manual("limited", nil), e.manual("limited", nil)
	ra, rb := e.waitEnd(a.ID), e.waitEnd(b.ID)
	if ra.State != store.RunSucceeded || rb.State != store.RunSucceeded {
		t.Fatalf("runs = %s, %s", ra.State, rb.State)
	}
	if rb.StartedAt.Before(ra.FinishedAt) {
		t.Errorf("with a limit of 1 the second run started at %v, before the first ended at %v", rb.StartedAt, ra.FinishedAt)
	}
}

// The per-team limit holds runs of different pipelines of one team, and
// only of that team: with PerTeam 1, team_a's second app waits for its
// first, while team_b's run starts beside it.
func TestQueueLimitsPerTeam(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{tweak: func(o *Options) { o.PerPipeline, o.PerTeam = 4, 1 }})
	pipe := "on: [manual]\nsteps:\n  - name: wait\n    run: sleep 1\n"
	for app, team := range map[string]string{"ta1": "team_a", "ta2": "team_a", "tb": "team_b"} {
		rp := newRepo(t, app)
		rp.commit(map[string]string{"berth.yaml": appSpec(app, rp.URL), ".berth/pipeline.yaml": pipe}, "initial")
		e.addApp(app, team, rp)
	}
	a1, a2, b := e.manual("ta1", nil), e.manual("ta2", nil), e.manual("tb", nil)
	r1, r2, rb := e.waitEnd(a1.ID), e.waitEnd(a2.ID), e.waitEnd(b.ID)
	for _, r := range []store.Run{r1, r2, rb} {
		if r.State != store.RunSucceeded {
			t.Fatalf("run %s = %s (%s)\n%s", r.ID, r.State, r.Reason, e.log(r.ID))
		}
	}
	first, second := r1, r2
	if r2.StartedAt.Before(r1.StartedAt) {
		first, second = r2, r1
	}
	if second.StartedAt.Before(first.FinishedAt) {
		t.Errorf("team_a's runs overlapped with a team limit of 1: %s started %v, %s ended %v", second.ID, second.StartedAt, first.ID, first.FinishedAt)
	}
	if !rb.StartedAt.Before(first.FinishedAt) {
		t.Errorf("team_b's run waited for team_a's: started %v, team_a's first ended %v", rb.StartedAt, first.FinishedAt)
	}
}

// Independent steps run in parallel up to the server's step limit: with a
// limit of 2, four independent steps never run more than two at once, and
// two do run together.
func TestStepParallelismLimit(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "wide", `on: [manual]
steps:
  - {name: a, run: sleep 0.6}
  - {name: b, run: sleep 0.6}
  - {name: c, run: sleep 0.6}
  - {name: d, run: sleep 0.6}
`, envOpts{tweak: func(o *Options) { o.StepParallelism = 2 }})
	run := e.waitEnd(e.manual("wide", nil).ID)
	if run.State != store.RunSucceeded {
		t.Fatalf("run = %s (%s)\n%s", run.State, run.Reason, e.log(run.ID))
	}
	most := 0
	for _, s := range run.Steps {
		at := 0 // steps running at s's start, s included
		for _, o := range run.Steps {
			if !o.StartedAt.After(s.StartedAt) && o.FinishedAt.After(s.StartedAt) {
				at++
			}
		}
		most = max(most, at)
	}
	if most != 2 {
		t.Errorf("at most %d steps ran at once, want 2 (limit 2, four independent steps): %+v", most, run.Steps)
	}
}
