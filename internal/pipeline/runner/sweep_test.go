package runner

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

// records keeps the messages logged at or above a level.
type records struct {
	mu   sync.Mutex
	msgs []string
}

func (r *records) Enabled(context.Context, slog.Level) bool { return true }
func (r *records) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r *records) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *records) WithGroup(string) slog.Handler      { return r }

// count is how many messages at level contain part.
func (r *records) count(level slog.Level, part string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, m := range r.msgs {
		if strings.HasPrefix(m, level.String()+" ") && strings.Contains(m, part) {
			n++
		}
	}
	return n
}

// TestSweepClusters: the sweep reaches the environment the stored
// pipeline names and tells it which runs are live (running or queued in
// the store, or driven here), not the ended ones; what it removed is
// counted. The first sweep of a term also reaches cluster environments no
// stored pipeline names (a pull request's pipeline file is never stored),
// later ones do not. A failing environment is warned about once, not on
// every pass, until a sweep there works again; one no pipeline names is
// not warned about at all. (The sweep against a real control plane is in
// package kube and internal/server.)
func TestSweepClusters(t *testing.T) {
	t.Parallel()
	fake := &fakeClusters{}
	logs := &records{}
	e, _ := setup(t, "swept", "on: [manual]\nexecutor: {env: ci}\nsteps:\n  - name: a\n    image: alpine:3.22\n    run: true\n",
		envOpts{noStart: true, tweak: func(o *Options) { o.Clusters, o.Logger = fake, slog.New(logs) }})
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateEnvironment(ctx, store.Environment{Name: "ci", Team: "team_a", Cluster: "eu", Namespace: "ci", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateEnvironment(ctx, store.Environment{Name: "pr", Team: "team_a", Cluster: "eu", Namespace: "pr", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := e.st.PutPipeline(ctx, store.PipelineState{
		App: "swept", Team: "team_a", Definition: []byte(`{"on":["manual"],"executor":{"env":"ci"},"steps":[{"name":"a","run":"true"}]}`), UpdatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	running, ended, queued := e.manual("swept", nil), e.manual("swept", nil), e.manual("swept", nil)
	for id, state := range map[string]string{running.ID: store.RunRunning, ended.ID: store.RunFailed} {
		if _, err := e.r.update(ctx, id, func(r *store.Run) error { r.State = state; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	e.r.mu.Lock()
	e.r.active["swept.99"] = &activeRun{app: "swept", team: "team_a"}
	e.r.mu.Unlock()

	e.r.SweepClusters(ctx, false)
	fake.mu.Lock()
	if len(fake.swept) != 1 || len(fake.envs) != 1 || fake.envs[0] != "ci/ci" {
		t.Fatalf("sweeps %v in %v; want one in ci/ci", fake.swept, fake.envs)
	}
	live := fake.swept[0]
	fake.envs = nil
	fake.mu.Unlock()
	e.r.SweepClusters(ctx, true)
	fake.mu.Lock()
	if strings.Join(fake.envs, " ") != "ci/ci pr/pr" {
		t.Errorf("the term's first sweep reached %v; want ci/ci pr/pr", fake.envs)
	}
	fake.mu.Unlock()
	slices.Sort(live)
	want := []string{queued.ID, running.ID, "swept.99"}
	slices.Sort(want)
	if !slices.Equal(live, want) {
		t.Errorf("live runs %v; want %v (not the ended %s)", live, want, ended.ID)
	}
	if n := e.r.Removed("pod"); n != 3 {
		t.Errorf("Removed(pod) = %d; want 3 (one in ci, then one each in ci and pr)", n)
	}

	const warn = "pipeline leftovers on a cluster cannot be removed"
	fake.mu.Lock()
	fake.sweepErr = errors.New("the cluster account may not list pods")
	fake.mu.Unlock()
	for _, every := range []bool{true, false, true} {
		e.r.SweepClusters(ctx, every)
	}
	if n := logs.count(slog.LevelWarn, warn); n != 1 {
		t.Errorf("%d warnings over three failing passes; want 1: %v", n, logs.msgs)
	}
	fake.mu.Lock()
	fake.sweepErr = nil
	fake.mu.Unlock()
	e.r.SweepClusters(ctx, false)
	if logs.count(slog.LevelInfo, "can be removed again") != 1 {
		t.Errorf("no word that sweeping works again: %v", logs.msgs)
	}
	fake.mu.Lock()
	fake.sweepErr = errors.New("the cluster account may not list pods")
	fake.mu.Unlock()
	e.r.SweepClusters(ctx, true)
	if n := logs.count(slog.LevelWarn, warn); n != 2 {
		t.Errorf("%d warnings; want a second one after it worked in between", n)
	}
	if n := e.r.Removed("pod"); n != 4 {
		t.Errorf("Removed(pod) = %d; want 4 after one more good sweep of ci", n)
	}
}
