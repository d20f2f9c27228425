package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Times are given in a non-UTC zone with nanoseconds on purpose: the store
// must return the same instant, in UTC, to the nanosecond.
var (
	zone = time.FixedZone("UTC+8", 8*3600)
	t0   = time.Date(2025, 3, 4, 5, 6, 7, 123456789, zone)
	t1   = t0.Add(time.Hour + time.Nanosecond)
)

func testApp(name string) store.App {
	return store.App{
		Name:          name,
		Team:          "team_a",
		Env:           "prod",
		LatestRelease: 2,
		TargetRelease: 1,
		Ports:         map[string]int{"web": 41001, "api": 41002},
		Status: api.AppStatus{
			Release: 1,
			Serving: 1,
			Phase:   api.PhaseRunning,
			Message: "all good",
			Conditions: []api.Condition{{
				Type: api.ConditionAvailable, Status: "True", Reason: "Ready",
				LastTransitionTime: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
			}},
			Services: []api.ServiceStatus{{
				Name: "web", Desired: 2, Ready: 2, Release: 1,
				Instances: []api.Instance{{ID: "web-1", Release: 1, State: "running", Ready: true, PID: 42, Port: 50001}},
			}},
			ObservedAt: time.Date(2025, 3, 4, 5, 6, 8, 0, time.UTC),
		},
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func testRelease(app string, n int) store.Release {
	return store.Release{
		App:    app,
		Number: n,
		// Not canonical on purpose: the bytes must come back unchanged.
		Spec:      json.RawMessage(fmt.Sprintf(`{"name": %q,  "services": {"web": {"replicas": %d}}, "a": [1, 2]}`, app, n)),
		SpecHash:  fmt.Sprintf("sha256:%064d", n),
		Source:    "sha256:" + fmt.Sprintf("%064x", n),
		Artifacts: map[string]api.Artifact{"web": {BuildKey: fmt.Sprintf("k%d", n), Dir: "/var/berth/builds/web"}},
		Cause:     "apply",
		State:     "Pending",
		Reason:    "Created",
		Message:   "waiting",
		CreatedAt: t0,
		UpdatedAt: t0,
	}
}

func testToken(id string) store.Token {
	return store.Token{ID: id, Name: "token " + id, Hash: fmt.Sprintf("%064x", id), CreatedAt: t0,
		Kind: "pat", User: "user_" + id, Scope: "deploy", Last4: "x7ka", ExpiresAt: t1}
}

// normApp is a as the store must return it: times in UTC, and an empty
// map the same as a nil one (backends may not tell them apart).
func normApp(a store.App) store.App {
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if a.Canary != nil {
		c := *a.Canary
		c.StepStartedAt = c.StepStartedAt.UTC()
		a.Canary = &c
	}
	if len(a.Ports) == 0 {
		a.Ports = nil
	} else {
		a.Ports = maps.Clone(a.Ports)
	}
	return a
}

func normRelease(r store.Release) store.Release {
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if len(r.Artifacts) == 0 {
		r.Artifacts = nil
	} else {
		r.Artifacts = maps.Clone(r.Artifacts)
	}
	if len(r.Spec) == 0 {
		r.Spec = nil
	}
	return r
}

func checkApp(t *testing.T, what string, got, want store.App) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	checkUTC(t, what+": UpdatedAt", got.UpdatedAt)
	if got.Canary != nil {
		checkUTC(t, what+": Canary.StepStartedAt", got.Canary.StepStartedAt)
	}
	if g, w := normApp(got), normApp(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, g, w)
	}
}

func checkRelease(t *testing.T, what string, got, want store.Release) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	checkUTC(t, what+": UpdatedAt", got.UpdatedAt)
	if g, w := normRelease(got), normRelease(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %+v\nwant %+v\n got spec %s\nwant spec %s", what, g, w, g.Spec, w.Spec)
	}
}

func checkToken(t *testing.T, what string, got, want store.Token) {
	t.Helper()
	checkUTC(t, what+": CreatedAt", got.CreatedAt)
	for _, tm := range []*time.Time{&want.CreatedAt, &want.ExpiresAt, &want.LastUsedAt, &want.RevokedAt} {
		if !tm.IsZero() {
			*tm = tm.UTC()
		}
	}
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func checkUTC(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.Location() != time.UTC {
		t.Errorf("%s: location %v, want UTC", what, tm.Location())
	}
}

// jsonEqual reports whether a and b hold the same JSON value; event data
// need not keep its bytes (a backend may store it as jsonb).
func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}
