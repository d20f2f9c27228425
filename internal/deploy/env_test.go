package deploy

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// testEnv is a Reconciler over a real SQLite store and fake runtime,
// builder and proxy, with a clock the test moves.
type testEnv struct {
	t     *testing.T
	ctx   context.Context
	st    *countingStore
	rt    *fakeRuntime
	b     *fakeBuilder
	px    *fakeProxy
	clock *fakeClock
	r     *Reconciler

	mu   sync.Mutex
	port int // the last port AllocPort handed out
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &testEnv{
		t: t, ctx: ctx,
		st:    &countingStore{Store: db},
		rt:    newFakeRuntime(),
		b:     &fakeBuilder{fail: map[string]error{}},
		px:    newFakeProxy(),
		clock: &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)},
	}
	e.port = 30000
	e.r = New(e.options())
	return e
}

// options are the Reconciler's options over the env's parts.
func (e *testEnv) options() Options {
	return Options{
		Store: e.st, Runtime: e.rt, Builder: e.b, Proxy: e.px, Now: e.clock.Now,
		VolumeDir: "/data/volumes",
		// Steps run in the pass that plans them; drain_test.go covers
		// the delay.
		DrainDelay: -1,
		AllocPort: func() (int, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.port++
			return e.port, nil
		},
	}
}

// restart replaces the Reconciler with a new one over the same store and
// runtime, as a restarted server does: nothing kept in memory survives.
func (e *testEnv) restart() {
	e.r = New(e.options())
}

// svc is a shorthand for a service with a command and n replicas.
func svc(n int, deps ...string) *spec.Service {
	return &spec.Service{Command: []string{"./run"}, Replicas: &n, DependsOn: deps}
}

func appSpec(name string, services map[string]*spec.Service) *spec.App {
	return &spec.App{Name: name, Services: services}
}

// apply does what the API does on `berth apply`: a new release, targeted.
func (e *testEnv) apply(a *spec.App) int {
	return e.createRelease(a, "apply", 0)
}

func (e *testEnv) createRelease(a *spec.App, cause string, rollbackOf int) int {
	e.t.Helper()
	return e.createReleaseWith(a, cause, rollbackOf, nil, nil)
}

// createReleaseWith is createRelease recording cfg, after prepare (when
// not nil) has written what the release refers to, in the same
// transaction.
func (e *testEnv) createReleaseWith(a *spec.App, cause string, rollbackOf int, cfg *api.ReleaseConfig, prepare func(tx store.Tx) error) int {
	e.t.Helper()
	data, err := a.Canonical()
	if err != nil {
		e.t.Fatal(err)
	}
	now := e.clock.Now()
	// One transaction, as the API does: a reconciler running meanwhile
	// (Run) never sees half of it, nor makes it conflict.
	var n int
	err = e.st.InTx(e.ctx, func(tx store.Tx) error {
		app, err := tx.GetApp(e.ctx, a.Name)
		if errors.Is(err, store.ErrNotFound) {
			app = store.App{Name: a.Name, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateApp(e.ctx, app); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if prepare != nil {
			if err := prepare(tx); err != nil {
				return err
			}
		}
		n = app.LatestRelease + 1
		if err := tx.CreateRelease(e.ctx, store.Release{
			App: a.Name, Number: n, Spec: data, SpecHash: "h", Source: "", Cause: cause,
			RollbackOf: rollbackOf, Config: cfg, State: api.ReleasePending, CreatedAt: now, UpdatedAt: now,
		}); err != nil {
			return err
		}
		app.LatestRelease, app.TargetRelease, app.UpdatedAt = n, n, now
		_, err = tx.UpdateApp(e.ctx, app)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// pass runs one Reconcile and returns the runtime calls it made.
func (e *testEnv) pass(app string) []string {
	e.t.Helper()
	e.rt.takeCalls()
	if _, err := e.r.Reconcile(e.ctx, app); err != nil {
		e.t.Fatalf("reconcile: %v", err)
	}
	return e.rt.takeCalls()
}

// settle reconciles, making every instance ready after each pass, until a
// pass changes nothing.
func (e *testEnv) settle(app string) {
	e.t.Helper()
	for range 20 {
		calls := e.pass(app)
		e.rt.readyAll()
		e.rt.finishDeletes()
		if len(calls) == 0 && len(e.pass(app)) == 0 {
			return
		}
	}
	e.t.Fatal("app did not settle in 20 passes")
}

func (e *testEnv) app(name string) store.App {
	e.t.Helper()
	a, err := e.st.GetApp(e.ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *testEnv) release(app string, n int) store.Release {
	e.t.Helper()
	r, err := e.st.GetRelease(e.ctx, app, n)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *testEnv) states(app string) []string {
	e.t.Helper()
	rels, err := e.st.ListReleases(e.ctx, app)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, r := range rels {
		out = append(out, r.State)
	}
	return out
}

func (e *testEnv) events(kind string) []store.Event {
	e.t.Helper()
	evs, err := e.st.ListEvents(e.ctx, 0, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []store.Event
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

func condition(st api.AppStatus, typ string) api.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return api.Condition{}
}

func wantCalls(t *testing.T, step string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: runtime calls\n got  %q\n want %q", step, got, want)
	}
}
