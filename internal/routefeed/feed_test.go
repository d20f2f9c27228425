package routefeed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// TestFeedMatchesCompile applies a random sequence of app creates,
// releases, status changes, canary weight changes, release failures,
// deletion requests and deletions to a real SQLite store (and one to
// PostgreSQL), each with its
// event as the real writers do, and after each step (or each few, so
// updates span several events) compares the feed's snapshots, and a
// consumer that applies only its deltas, with a full compile. A real
// gateway follows the deltas too and must accept every one.
func TestFeedMatchesCompile(t *testing.T) {
	t.Parallel()
	postgresDB := func(t *testing.T) store.Store {
		db, err := postgres.Open(t.Context(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	for _, tc := range []struct {
		desc string
		open func(*testing.T) store.Store
		seed uint64
	}{
		{"sqlite seed 1", openSQLite, 1},
		{"sqlite seed 2", openSQLite, 2},
		{"sqlite seed 3", openSQLite, 3},
		{"postgres seed 4", postgresDB, 4},
	} {
		seed := tc.seed
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			db := tc.open(t)
			t.Cleanup(func() { _ = db.Close() })
			w := &randomWriter{t: t, db: db, rng: rand.New(rand.NewPCG(seed, seed*7919)), now: time.Now().UTC(), counts: map[string]int{}}
			feed := NewFeed(db)
			envs := []string{"", "prod"}
			consumers := map[string]*deltaConsumer{}
			for _, env := range envs {
				consumers[env] = &deltaConsumer{env: env, rev: -1, apps: map[string][]gateway.Route{}}
			}
			gw := gateway.New(gateway.Options{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
			t.Cleanup(func() { _ = gw.Close() })
			gwRev := int64(-1)
			var fulls, deltas int
			for step := range 300 {
				w.step(ctx)
				if w.rng.IntN(3) == 0 {
					continue // let events pile up: an update then spans several
				}
				for _, env := range envs {
					want, err := CompileEnv(ctx, db, env)
					if err != nil {
						t.Fatal(err)
					}
					got, err := feed.Snapshot(ctx, env)
					if err != nil {
						t.Fatal(err)
					}
					if !reflect.DeepEqual(got, want) {
						t.Fatalf("step %d (%s), env %q: feed snapshot differs from a full compile:\n got %+v\nwant %+v", step, w.last, env, got, want)
					}
					c := consumers[env]
					full := c.follow(t, ctx, feed)
					if full {
						fulls++
					} else {
						deltas++
					}
					if got := c.snapshot(); !reflect.DeepEqual(got, want) {
						t.Fatalf("step %d (%s), env %q: deltas applied differ from a full compile:\n got %+v\nwant %+v", step, w.last, env, got, want)
					}
				}
				u, err := feed.Since(ctx, "", gwRev)
				if err != nil {
					t.Fatal(err)
				}
				if u.Full {
					err, gwRev = gw.Load(u.Snapshot), u.Snapshot.Revision
				} else {
					err, gwRev = gw.LoadDelta(u.Delta), u.Delta.Revision
				}
				if err != nil {
					t.Fatalf("step %d (%s): gateway refused the update: %v", step, w.last, err)
				}
			}
			if deltas < 100 || w.counts["delete"] == 0 || w.counts["canary"] == 0 || w.counts["moved"] == 0 {
				t.Fatalf("the sequence did not exercise enough: %d deltas, %d full, steps %v", deltas, fulls, w.counts)
			}
			t.Logf("%d deltas, %d full snapshots; steps %v", deltas, fulls, w.counts)
		})
	}
}

// TestFeedFallsBackToFullCompile: an event that names no app, a consumer
// that saw a revision the feed cannot account for, and a store whose
// revision went back each get a whole snapshot.
func TestFeedFallsBackToFullCompile(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db := openSQLite(t)
	t.Cleanup(func() { _ = db.Close() })
	w := &randomWriter{t: t, db: db, rng: rand.New(rand.NewPCG(9, 9)), now: time.Now().UTC(), counts: map[string]int{}}
	w.create(ctx)
	feed := NewFeed(db)
	u, err := feed.Since(ctx, "", -1)
	if err != nil || !u.Full {
		t.Fatalf("first update: %+v, %v; want a full snapshot", u, err)
	}
	rev := u.Snapshot.Revision
	w.create(ctx)
	if u, err = feed.Since(ctx, "", rev); err != nil || u.Full || len(u.Delta.Apps) != 1 {
		t.Fatalf("after one create: %+v, %v; want a delta of one app", u, err)
	}
	rev = u.Delta.Revision
	if _, err := db.AppendEvent(ctx, store.Event{Kind: "platform.changed", Time: w.now}); err != nil {
		t.Fatal(err)
	}
	if u, err = feed.Since(ctx, "", rev); err != nil || !u.Full {
		t.Fatalf("after an event naming no app: %+v, %v; want a full snapshot", u, err)
	}
	if u, err = feed.Since(ctx, "", u.Snapshot.Revision+5); err != nil || !u.Full {
		t.Fatalf("since a revision ahead of the store: %+v, %v; want a full snapshot", u, err)
	}
}

func openSQLite(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// deltaConsumer is a gateway's view of one environment built from
// Feed.Since alone.
type deltaConsumer struct {
	env  string
	rev  int64
	apps map[string][]gateway.Route
}

func (c *deltaConsumer) follow(t *testing.T, ctx context.Context, f *Feed) (full bool) {
	t.Helper()
	u, err := f.Since(ctx, c.env, c.rev)
	if err != nil {
		t.Fatal(err)
	}
	if u.Full {
		clear(c.apps)
		for _, r := range u.Snapshot.Routes {
			c.apps[r.App] = append(c.apps[r.App], r)
		}
		c.rev = u.Snapshot.Revision
		return true
	}
	for app, routes := range u.Delta.Apps {
		if len(routes) == 0 {
			delete(c.apps, app)
		} else {
			c.apps[app] = routes
		}
	}
	c.rev = u.Delta.Revision
	return false
}

func (c *deltaConsumer) snapshot() gateway.Snapshot {
	s := gateway.Snapshot{Revision: c.rev, Routes: []gateway.Route{}}
	for _, app := range slices.Sorted(maps.Keys(c.apps)) {
		s.Routes = append(s.Routes, c.apps[app]...)
	}
	return s
}

// randomWriter changes apps the way Berth's writers do: each change in one
// transaction with an event naming its app.
type randomWriter struct {
	t      *testing.T
	db     store.Store
	rng    *rand.Rand
	now    time.Time
	n      int
	last   string
	counts map[string]int
	// deleted names are sometimes reused, in either environment: the
	// feed must then drop the app from the environment it left.
	deleted []string
}

func (w *randomWriter) step(ctx context.Context) {
	apps, err := w.db.ListApps(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(apps) < 3 || w.rng.IntN(6) == 0 {
		w.create(ctx)
		return
	}
	a := apps[w.rng.IntN(len(apps))]
	ops := []struct {
		name string
		do   func(context.Context, store.App)
	}{
		{"release", w.release},
		{"status", w.status},
		{"canary", w.canary},
		{"fail", w.fail},
		{"deleting", w.deleting},
		{"delete", w.delete},
	}
	op := ops[w.rng.IntN(len(ops))]
	if op.name == "delete" && w.rng.IntN(2) == 0 {
		op = ops[1] // deletions rarer than the rest
	}
	w.last = op.name + " " + a.Name
	w.counts[op.name]++
	op.do(ctx, a)
}

func (w *randomWriter) inTx(ctx context.Context, app string, kind string, fn func(tx store.Tx) error) {
	w.t.Helper()
	w.now = w.now.Add(time.Second)
	err := w.db.InTx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := tx.AppendEvent(ctx, store.Event{Kind: kind, App: app, Time: w.now})
		return err
	})
	if err != nil {
		w.t.Fatalf("%s: %v", w.last, err)
	}
}

// appSpec makes a spec of one to four routes over two services, with
// exact, wildcard and catch-all hosts and the odd policy.
func (w *randomWriter) appSpec(name string, rel int) json.RawMessage {
	s := spec.App{Name: name}
	for i := range 1 + w.rng.IntN(4) {
		r := spec.Route{Host: fmt.Sprintf("%s-%d.localhost", name, w.rng.IntN(3)), Path: fmt.Sprintf("/p%d/%d", i, rel), Service: "web"}
		switch w.rng.IntN(6) {
		case 0:
			r.Host = "*." + name + ".localhost"
		case 1:
			r.Host = ""
		case 2:
			r.Service = "api"
			r.Retries = &spec.Retries{Attempts: 2}
		case 3:
			r.Headers = map[string]string{"X-Rel": fmt.Sprint(rel)}
		}
		s.Routes = append(s.Routes, r)
	}
	b, err := json.Marshal(s)
	if err != nil {
		w.t.Fatal(err)
	}
	return b
}

// instances makes a status with ready and unready instances of releases.
func (w *randomWriter) services(rels ...int) []api.ServiceStatus {
	var out []api.ServiceStatus
	for _, svc := range []string{"web", "api"} {
		ss := api.ServiceStatus{Name: svc}
		for _, rel := range rels {
			for i := range 1 + w.rng.IntN(3) {
				w.n++
				ss.Instances = append(ss.Instances, api.Instance{
					ID: fmt.Sprintf("%s-%d-%d", svc, rel, i), Release: rel, Ready: w.rng.IntN(5) > 0,
					Host: "127.0.0.1", Port: 20000 + w.n%40000,
				})
			}
		}
		out = append(out, ss)
	}
	return out
}

func (w *randomWriter) create(ctx context.Context) {
	w.n++
	name := fmt.Sprintf("app%03d", w.n)
	if len(w.deleted) > 0 && w.rng.IntN(2) == 0 {
		name, w.deleted = w.deleted[0], w.deleted[1:]
	}
	env := ""
	if w.rng.IntN(3) == 0 {
		env = "prod"
	}
	w.createNamed(ctx, name, env)
}

func (w *randomWriter) createNamed(ctx context.Context, name, env string) {
	w.last = "create " + name + " in " + env
	w.counts["create"]++
	a := store.App{Name: name, Env: env, LatestRelease: 1, TargetRelease: 1, CreatedAt: w.now, UpdatedAt: w.now,
		Status: api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: w.services(1)}}
	if w.rng.IntN(5) == 0 {
		a.Status = api.AppStatus{Phase: api.PhasePending} // nothing serves yet
	}
	w.inTx(ctx, name, api.EventAppApplied, func(tx store.Tx) error {
		if err := tx.CreateApp(ctx, a); err != nil {
			return err
		}
		return tx.CreateRelease(ctx, store.Release{App: name, Number: 1, Spec: w.appSpec(name, 1),
			State: api.ReleaseDeployed, CreatedAt: w.now, UpdatedAt: w.now})
	})
}

// release creates the next release as the target, sometimes with a canary.
func (w *randomWriter) release(ctx context.Context, a store.App) {
	n := a.LatestRelease + 1
	w.inTx(ctx, a.Name, api.EventAppApplied, func(tx store.Tx) error {
		if err := tx.CreateRelease(ctx, store.Release{App: a.Name, Number: n, Spec: w.appSpec(a.Name, n),
			State: api.ReleaseProgressing, CreatedAt: w.now, UpdatedAt: w.now}); err != nil {
			return err
		}
		a.LatestRelease, a.TargetRelease = n, n
		a.Canary = nil
		if w.rng.IntN(2) == 0 {
			a.Canary = &store.Canary{Release: n, Weight: 10}
		}
		if a.Status.Serving > 0 {
			a.Status.Release = n
			a.Status.Phase = api.PhaseProgressing
			a.Status.Services = w.services(a.Status.Serving, n)
		}
		_, err := tx.UpdateApp(ctx, a)
		return err
	})
}

// status rewrites the observed status: new instances, and sometimes the
// target becomes the serving release.
func (w *randomWriter) status(ctx context.Context, a store.App) {
	w.inTx(ctx, a.Name, api.EventAppStatus, func(tx store.Tx) error {
		if w.rng.IntN(3) == 0 || a.Status.Serving == 0 {
			if rel, err := tx.GetRelease(ctx, a.Name, a.TargetRelease); err == nil && rel.State != api.ReleaseFailed {
				rel.State = api.ReleaseDeployed
				if _, err := tx.UpdateRelease(ctx, rel); err != nil {
					return err
				}
				a.Status.Serving, a.Status.Release, a.Status.Phase = a.TargetRelease, a.TargetRelease, api.PhaseRunning
				a.Canary = nil
			}
		}
		if a.Status.Serving > 0 {
			a.Status.Services = w.services(a.Status.Serving, a.TargetRelease)
		}
		_, err := tx.UpdateApp(ctx, a)
		return err
	})
}

// canary moves the canary's weight, or starts one on the target.
func (w *randomWriter) canary(ctx context.Context, a store.App) {
	w.inTx(ctx, a.Name, api.EventAppRollout, func(tx store.Tx) error {
		if a.Canary == nil {
			a.Canary = &store.Canary{Release: a.TargetRelease}
		}
		a.Canary.Weight = w.rng.IntN(101)
		_, err := tx.UpdateApp(ctx, a)
		return err
	})
}

// fail marks the target release failed (its instances then take no
// traffic).
func (w *randomWriter) fail(ctx context.Context, a store.App) {
	w.inTx(ctx, a.Name, api.EventReleaseUpdated, func(tx store.Tx) error {
		rel, err := tx.GetRelease(ctx, a.Name, a.TargetRelease)
		if err != nil {
			return err
		}
		rel.State = api.ReleaseFailed
		_, err = tx.UpdateRelease(ctx, rel)
		return err
	})
}

func (w *randomWriter) deleting(ctx context.Context, a store.App) {
	w.inTx(ctx, a.Name, api.EventAppStatus, func(tx store.Tx) error {
		a.Deleting = true
		a.Status.Phase = api.PhaseDeleting
		_, err := tx.UpdateApp(ctx, a)
		return err
	})
}

func (w *randomWriter) delete(ctx context.Context, a store.App) {
	w.inTx(ctx, a.Name, api.EventAppDeleted, func(tx store.Tx) error {
		if err := tx.DeleteReleases(ctx, a.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.DeleteApp(ctx, a.Name)
	})
	if w.rng.IntN(2) == 0 {
		// The name comes back at once in the other environment: a
		// consumer of the old one that did not see the deletion must
		// still drop the app.
		env := "prod"
		if a.Env == "prod" {
			env = ""
		}
		w.createNamed(ctx, a.Name, env)
		w.counts["moved"]++
		return
	}
	w.deleted = append(w.deleted, a.Name)
}
