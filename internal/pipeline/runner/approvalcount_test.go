package runner

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/store"
)

// An approval gate by listed users that needs two of them: one approval
// does not open it, the same person cannot count twice, an owner who is
// not listed cannot decide, and the second listed user's approval lets the
// run go on, with both decisions recorded.
func TestApprovalNeedsCountFromListedUsers(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "twokeys", `on: [manual]
steps:
  - name: gate
    approval: {users: [ann, bob, cy], count: 2, timeout: 1h}
  - name: ship
    needs: [gate]
    run: echo shipped
`, envOpts{})
	member := func(who string, role rbac.Role) rbac.Principal {
		return rbac.Principal{Subject: who, Teams: map[string]rbac.Role{"team_a": role}}
	}
	ctx := t.Context()
	id := e.manual("twokeys", nil).ID
	e.waitRun(id, "approval waiting", func(r store.Run) bool { return stepOf(r, "gate").Status == "running" })

	if _, err := e.r.Decide(ctx, member("ann", rbac.RoleViewer), id, store.DecisionApprove, "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.Decide(ctx, member("ann", rbac.RoleViewer), id, store.DecisionApprove, "twice"); !errors.Is(err, pipeline.ErrDecided) {
		t.Errorf("the same approver again = %v, want ErrDecided", err)
	}
	if _, err := e.r.Decide(ctx, member("olga", rbac.RoleOwner), id, store.DecisionApprove, ""); !errors.Is(err, pipeline.ErrNotApprover) {
		t.Errorf("an owner not listed = %v, want ErrNotApprover", err)
	}
	time.Sleep(2 * approvalPoll) // the gate had time to (wrongly) open
	if run, _ := e.st.GetRun(ctx, id); stepOf(run, "gate").Status != "running" || stepOf(run, "ship").Status != "pending" {
		t.Fatalf("one approval of two opened the gate: %+v", run.Steps)
	}
	if _, err := e.r.Decide(ctx, member("bob", rbac.RoleViewer), id, store.DecisionApprove, "two"); err != nil {
		t.Fatal(err)
	}
	run := e.waitEnd(id)
	if run.State != store.RunSucceeded || stepOf(run, "ship").Status != "success" {
		t.Fatalf("run = %s (%s)\n%s", run.State, run.Reason, e.log(id))
	}
	if r := stepOf(run, "gate").Reason; !strings.Contains(r, `ann ("one")`) || !strings.Contains(r, `bob ("two")`) {
		t.Errorf("gate reason %q should name both approvers", r)
	}
	approvals, err := e.st.ListApprovals(ctx, id)
	if err != nil || len(approvals) != 2 {
		t.Fatalf("approvals = %+v, %v", approvals, err)
	}
}

// An approval gate nobody decides fails the run at its timeout, and the
// steps after it never run.
func TestApprovalTimeoutFailsTheRun(t *testing.T) {
	t.Parallel()
	e, _ := setup(t, "nobody", `on: [manual]
steps:
  - name: gate
    approval: {role: admin, timeout: 1s}
  - name: ship
    needs: [gate]
    run: echo shipped
`, envOpts{})
	start := time.Now()
	run := e.waitEnd(e.manual("nobody", nil).ID)
	if run.State != store.RunFailed || !strings.Contains(stepOf(run, "gate").Reason, "no decision within 1s") || stepOf(run, "ship").Status != "skipped" {
		t.Fatalf("run = %s (%s), gate %+v, ship %+v", run.State, run.Reason, stepOf(run, "gate"), stepOf(run, "ship"))
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("the run ended after %s, before the gate's timeout", took)
	}
}
