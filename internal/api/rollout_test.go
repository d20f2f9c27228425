package api

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

const specCanary = `name: shop
services:
  web:
    command: [./web, --v3]
    ports: [8080]
strategy:
  type: canary
  steps:
    - {weight: 10}
    - {weight: 50, pause: 1m}
`

// storedApp reads the app record as the reconciler sees it.
func storedApp(t *testing.T, ts *testServer) store.App {
	t.Helper()
	a, err := ts.db.GetApp(context.Background(), "shop")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func intp(n int) *int { return &n }

func TestRolloutPromoteAbort(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)

	// Release 1 is not serving yet: nothing to run a canary beside.
	status, b := ts.call(t, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Canary: intp(10)})
	if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "no serving release") {
		t.Fatalf("canary before anything serves: %d %+v", status, e)
	}
	markState(t, ts, 1, api.ReleaseDeployed)
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Canary: intp(10)})
	if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "already serving: there is nothing to canary") {
		t.Fatalf("canary of the serving release: %d %+v", status, e)
	}
	// promote, abort and weight need a canary.
	for _, path := range []string{"promote", "abort"} {
		status, b = ts.call(t, "POST", "/api/v1/apps/shop/"+path, nil)
		if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "no canary is running") {
			t.Fatalf("%s without a canary: %d %+v", path, status, e)
		}
	}

	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV2}, nil)
	var resp api.RolloutResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Canary: intp(10)}, &resp)
	if resp.App != "shop" || resp.Action != api.RolloutCanary || resp.Release != 2 || resp.Stable != 1 || resp.Weight != 10 || resp.Revision == 0 {
		t.Fatalf("rollout --canary: %+v", resp)
	}
	c := storedApp(t, ts).Canary
	if c == nil || c.Release != 2 || c.Weight != 10 || !c.Manual || c.Promote || c.StepStartedAt.IsZero() {
		t.Fatalf("stored canary %+v", c)
	}
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Canary: intp(20)})
	if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "already runs at 10 %") {
		t.Fatalf("second canary: %d %+v", status, e)
	}

	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Weight: intp(50)}, &resp)
	if resp.Action != api.RolloutWeight || resp.Weight != 50 {
		t.Fatalf("rollout --weight: %+v", resp)
	}
	if c := storedApp(t, ts).Canary; c.Weight != 50 || !c.Manual {
		t.Fatalf("stored canary after weight %+v", c)
	}

	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/promote", nil, &resp)
	if resp.Action != api.RolloutPromote || resp.Release != 2 || resp.Weight != 50 {
		t.Fatalf("promote: %+v", resp)
	}
	first := storedApp(t, ts).Canary
	if !first.Promote {
		t.Fatalf("stored canary after promote %+v", first)
	}
	// Promoting twice is no error and does not restart the promotion.
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/promote", nil, &resp)
	if again := storedApp(t, ts).Canary; !again.StepStartedAt.Equal(first.StepStartedAt) {
		t.Errorf("second promote moved the start: %v -> %v", first.StepStartedAt, again.StepStartedAt)
	}
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Weight: intp(20)})
	if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "being promoted") {
		t.Fatalf("weight while promoting: %d %+v", status, e)
	}

	// Abort (before the reconciler finished the promotion) ends it: the
	// release fails with reason Aborted and the canary state is gone.
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/abort", nil, &resp)
	if resp.Action != api.RolloutAbort || resp.Release != 2 || resp.Stable != 1 || resp.Weight != 0 {
		t.Fatalf("abort: %+v", resp)
	}
	if a := storedApp(t, ts); a.Canary != nil {
		t.Fatalf("canary after abort %+v", a.Canary)
	}
	var rel api.Release
	ts.mustCall(t, 200, "GET", "/api/v1/apps/shop/releases/2", nil, &rel)
	if rel.State != api.ReleaseFailed || rel.Reason != api.ReasonAborted || !strings.Contains(rel.Message, "aborted at 50 %") {
		t.Fatalf("release after abort %+v", rel)
	}
	status, b = ts.call(t, "POST", "/api/v1/apps/shop/abort", nil)
	if e := decodeError(t, b); status != 409 || !strings.Contains(e.Message, "failed (Aborted)") {
		t.Fatalf("second abort: %d %+v", status, e)
	}

	evs, err := ts.db.ListEvents(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		if ev.Kind == api.EventAppRollout {
			actions = append(actions, ev.App+" "+strings.SplitN(strings.SplitN(string(ev.Data), `"action":"`, 2)[1], `"`, 2)[0])
		}
	}
	if want := []string{"shop canary", "shop weight", "shop promote", "shop promote", "shop abort"}; !slices.Equal(actions, want) {
		t.Errorf("app.rollout events %v, want %v", actions, want)
	}
	ts.mu.Lock()
	n := len(ts.notified)
	ts.mu.Unlock()
	if n < 7 { // two applies and five canary calls
		t.Errorf("reconciler notified %d times", n)
	}
}

// TestRolloutFollowsStrategySteps: a release with a canary strategy has a
// canary before the reconciler wrote one; a weight of one of its steps
// goes on with the steps from there, another takes it off them.
func TestRolloutFollowsStrategySteps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	markState(t, ts, 1, api.ReleaseDeployed)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specCanary}, nil)

	var resp api.RolloutResponse
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Weight: intp(50)}, &resp)
	if c := storedApp(t, ts).Canary; c == nil || c.Release != 2 || c.Weight != 50 || c.Step != 1 || c.Manual {
		t.Fatalf("weight of step 2: %+v", c)
	}
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Weight: intp(30)}, &resp)
	if c := storedApp(t, ts).Canary; c.Weight != 30 || c.Step != 1 || !c.Manual {
		t.Fatalf("weight off the steps: %+v", c)
	}
	ts.mustCall(t, 200, "POST", "/api/v1/apps/shop/rollout", api.RolloutRequest{Weight: intp(10)}, &resp)
	if c := storedApp(t, ts).Canary; c.Weight != 10 || c.Step != 0 || c.Manual {
		t.Fatalf("back to step 1: %+v", c)
	}
}

func TestRolloutBadInput(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	tests := []struct {
		desc   string
		path   string
		body   any
		status int
		fields []string
		msg    string
	}{
		{desc: "neither canary nor weight", path: "shop/rollout", body: `{}`, status: 422, fields: []string{"canary", "weight"}, msg: "required"},
		{desc: "both", path: "shop/rollout", body: `{"canary": 10, "weight": 20}`, status: 422, fields: []string{"canary", "weight"}, msg: "not both"},
		{desc: "canary too high", path: "shop/rollout", body: `{"canary": 100}`, status: 422, fields: []string{"canary"}, msg: "100 is out of range (0-99"},
		{desc: "negative weight", path: "shop/rollout", body: `{"weight": -1}`, status: 422, fields: []string{"weight"}, msg: "-1 is out of range"},
		{desc: "weight is a string", path: "shop/rollout", body: `{"weight": "50"}`, status: 400, fields: []string{"weight"}, msg: "expected a number"},
		{desc: "unknown field", path: "shop/rollout", body: `{"percent": 5}`, status: 400, fields: []string{"percent"}, msg: "unknown field"},
		{desc: "no body", path: "shop/rollout", body: nil, status: 400, msg: "body is empty"},
		{desc: "unknown app", path: "nope/rollout", body: `{"canary": 5}`, status: 404, msg: `app "nope" not found`},
		{desc: "bad app name", path: "No_Pe/promote", status: 422, fields: []string{"app"}, msg: "is not an app name"},
		{desc: "unknown app promote", path: "nope/abort", status: 404, msg: `app "nope" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			status, b := ts.call(t, "POST", "/api/v1/apps/"+tt.path, tt.body)
			e := decodeError(t, b)
			if status != tt.status || !strings.Contains(e.Message, tt.msg) {
				t.Fatalf("%d %+v, want %d ...%s...", status, e, tt.status, tt.msg)
			}
			var fields []string
			for _, d := range e.Details {
				fields = append(fields, d.Field)
			}
			if !slices.Equal(fields, tt.fields) {
				t.Errorf("detail fields %v, want %v", fields, tt.fields)
			}
		})
	}
	if c := storedApp(t, ts).Canary; c != nil {
		t.Errorf("bad input changed the canary: %+v", c)
	}
}
