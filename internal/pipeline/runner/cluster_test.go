package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/store"
)

// fakeClusters stands in for the server's kube executors in these unit
// tests (internal/server's kube test runs the real one on a control
// plane). It records what the runner asked of it, in order.
type fakeClusters struct {
	image string
	// codes are the exit codes of steps by name (default 0).
	codes       map[string]int
	checkoutErr error
	// onRun, when set, sees each step as the executor gets it.
	onRun func(executor.StepSpec)

	mu    sync.Mutex
	calls []string
	src   gitsrc.Source
	envs  []string
	// sweepErr fails Sweep; swept are the live run IDs each sweep saw.
	sweepErr error
	swept    [][]string
}

func (f *fakeClusters) DefaultImage() string { return f.image }

func (f *fakeClusters) ForEnvironment(_ context.Context, e store.Environment) (ClusterExecutor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.envs = append(f.envs, e.Name+"/"+e.Namespace)
	return f, nil
}

func (f *fakeClusters) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeClusters) Prepare(_ context.Context, runID string) (executor.Workspace, error) {
	f.record("prepare %s", runID)
	return executor.Workspace{Root: "/berth/workspace", Src: "/berth/workspace/src", Home: "/berth/workspace/home"}, nil
}

func (f *fakeClusters) Checkout(_ context.Context, runID string, ws executor.Workspace, src gitsrc.Source, out io.Writer) error {
	f.record("checkout %s into %s", runID, ws.Src)
	f.mu.Lock()
	f.src = src
	f.mu.Unlock()
	fmt.Fprintln(out, "cloned with "+src.Auth.Token)
	return f.checkoutErr
}

func (f *fakeClusters) Run(_ context.Context, s executor.StepSpec, _ io.Writer) (executor.Result, error) {
	f.record("run %s in %s image %q", s.Name, s.Workspace.Src, s.Image)
	if f.onRun != nil {
		f.onRun(s)
	}
	return executor.Result{ExitCode: f.codes[s.Name]}, nil
}

func (f *fakeClusters) Cleanup(_ context.Context, runID string) error {
	f.record("cleanup %s", runID)
	return nil
}

// Sweep records the live runs it was told of (not in calls: the sweep
// runs beside the runs the other tests follow) and removes one pod, or
// fails with sweepErr.
func (f *fakeClusters) Sweep(ctx context.Context, live func(context.Context) ([]string, error)) (map[string]int, error) {
	f.mu.Lock()
	err := f.sweepErr
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	ids, err := live(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.swept = append(f.swept, ids)
	return map[string]int{"pod": 1}, nil
}

// TestClusterExecutor: a pipeline with executor.env runs on the fake
// cluster executor in DAG order, after its workspace was made and seeded
// with the exact commit, and the run's leftovers are removed however it
// ends. Environments that are missing, another team's or not on a
// cluster, and steps without an image where there is no default, fail the
// run before anything is made, with a reason naming the field.
func TestClusterExecutor(t *testing.T) {
	t.Parallel()
	const pipelineYAML = `on: [manual]
executor: {env: %s}
steps:
  - name: build
    image: golang:1.25
    run: echo build
  - name: test
    needs: [build]
    %s
    run: echo test
`
	tests := []struct {
		desc, env, image, defaultImage string
		codes                          map[string]int
		checkoutErr                    error
		state                          string
		// reason is a fragment of the run's reason; calls the fake's
		// calls with {run} for the run's ID.
		reason string
		calls  []string
	}{
		{
			desc: "steps run in order on the cluster", env: "ci", image: "image: alpine:3.22", state: store.RunSucceeded,
			calls: []string{
				"prepare {run}", "checkout {run} into /berth/workspace/src",
				`run build in /berth/workspace/src image "golang:1.25"`, `run test in /berth/workspace/src image "alpine:3.22"`,
				"cleanup {run}",
			},
		},
		{
			desc: "an exit code fails the run", env: "ci", image: "image: alpine:3.22", codes: map[string]int{"test": 3},
			state: store.RunFailed, reason: "step test failed: exit code 3",
			calls: []string{
				"prepare {run}", "checkout {run} into /berth/workspace/src",
				`run build in /berth/workspace/src image "golang:1.25"`, `run test in /berth/workspace/src image "alpine:3.22"`,
				"cleanup {run}",
			},
		},
		{
			desc: "the default image", env: "ci", defaultImage: "busybox:1.37", state: store.RunSucceeded,
			calls: []string{
				"prepare {run}", "checkout {run} into /berth/workspace/src",
				`run build in /berth/workspace/src image "golang:1.25"`, `run test in /berth/workspace/src image ""`,
				"cleanup {run}",
			},
		},
		{
			desc: "a failed checkout", env: "ci", image: "image: alpine:3.22", checkoutErr: errors.New("exit code 128"),
			state: store.RunFailed, reason: "checkout on environment ci: exit code 128",
			calls: []string{"prepare {run}", "checkout {run} into /berth/workspace/src", "cleanup {run}"},
		},
		{
			desc: "no image and no default", env: "ci", state: store.RunFailed,
			reason: "steps[1].image: required when steps run on a cluster (executor.env: ci), as the server has no --pipeline-default-image",
		},
		{
			desc: "unknown environment", env: "nope", image: "image: alpine:3.22", state: store.RunFailed,
			reason: `executor.env: no environment named "nope" in the pipeline's team`,
		},
		{
			desc: "another team's environment", env: "theirs", image: "image: alpine:3.22", state: store.RunFailed,
			reason: `executor.env: no environment named "theirs" in the pipeline's team`,
		},
		{
			desc: "local runs on the server", env: "local", image: "image: alpine:3.22", state: store.RunSucceeded,
		},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			fake := &fakeClusters{image: tt.defaultImage, codes: tt.codes, checkoutErr: tt.checkoutErr}
			app := fmt.Sprintf("clu%d", i)
			e, _ := setup(t, app, fmt.Sprintf(pipelineYAML, tt.env, tt.image), envOpts{
				secrets: mapSecrets{},
				tweak:   func(o *Options) { o.Clusters = fake },
			})
			ctx := t.Context()
			if err := e.st.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
				t.Fatal(err)
			}
			for _, env := range []store.Environment{
				{Name: "ci", Team: "team_a", Cluster: "eu", Namespace: "ci"},
				{Name: "theirs", Team: "team_b", Cluster: "eu", Namespace: "other"},
			} {
				env.CreatedAt = time.Now()
				if err := e.st.CreateEnvironment(ctx, env); err != nil {
					t.Fatal(err)
				}
			}
			run := e.waitEnd(e.manual(app, nil).ID)
			if run.State != tt.state || !strings.Contains(run.Reason, tt.reason) {
				t.Fatalf("run %s: %s (%s); want %s with %q\n%s", run.ID, run.State, run.Reason, tt.state, tt.reason, e.log(run.ID))
			}
			want := strings.ReplaceAll(strings.Join(tt.calls, "\n"), "{run}", run.ID)
			if got := strings.Join(fake.calls, "\n"); got != want {
				t.Errorf("calls:\n%s\nwant:\n%s", got, want)
			}
			if len(tt.calls) > 0 {
				if fake.src.Commit != run.Commit || fake.src.Ref != run.Ref || fake.src.URL == "" {
					t.Errorf("checkout of %+v; want commit %s ref %s", fake.src, run.Commit, run.Ref)
				}
				if strings.Join(fake.envs, ",") != "ci/ci" {
					t.Errorf("executors opened for %v", fake.envs)
				}
				if log := e.log(run.ID); !strings.Contains(log, "[checkout] cloned with") ||
					!strings.Contains(log, "steps run as pods in environment ci (cluster eu, namespace ci)") {
					t.Errorf("log:\n%s", log)
				}
			}
		})
	}
}

// TestClusterRunCleanedAfterRestart: a run whose server died while its
// steps ran on a cluster is marked failed on the next start, and its pods
// and workspace claim there are removed (the app's pipeline as last read
// names the environment).
func TestClusterRunCleanedAfterRestart(t *testing.T) {
	t.Parallel()
	fake := &fakeClusters{}
	e, _ := setup(t, "crashed", "on: [manual]\nexecutor: {env: ci}\nsteps:\n  - name: a\n    image: alpine:3.22\n    run: sleep 300\n",
		envOpts{noStart: true, tweak: func(o *Options) { o.Clusters = fake }})
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateEnvironment(ctx, store.Environment{Name: "ci", Team: "team_a", Cluster: "eu", Namespace: "ci", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	crashed := e.manual("crashed", nil)
	if _, err := e.r.update(ctx, crashed.ID, func(r *store.Run) error {
		r.State, r.StartedAt = store.RunRunning, time.Now()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// What the run stored when it read its pipeline file.
	if err := e.st.PutPipeline(ctx, store.PipelineState{
		App: "crashed", Team: "team_a", Definition: []byte(`{"on":["manual"],"executor":{"env":"ci"},"steps":[{"name":"a","run":"sleep 300"}]}`), UpdatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	e.start()
	if run := e.waitEnd(crashed.ID); run.State != store.RunFailed {
		t.Fatalf("interrupted run: %s (%s)", run.State, run.Reason)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if strings.Join(fake.calls, "\n") != "cleanup "+crashed.ID {
		t.Errorf("calls %v; want the interrupted run's cleanup", fake.calls)
	}
}
