package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/store"
)

// ClusterExecutor runs the steps of runs whose pipeline names an
// environment (executor.env) as pods in its namespace;
// *kube.Executor is one. Prepare makes the run's workspace volume,
// Checkout seeds it with the run's commit, Cleanup removes what the run
// left there.
type ClusterExecutor interface {
	executor.Executor
	Prepare(ctx context.Context, runID string) (executor.Workspace, error)
	Checkout(ctx context.Context, runID string, ws executor.Workspace, src gitsrc.Source, out io.Writer) error
	Cleanup(ctx context.Context, runID string) error
}

// ClusterExecutors opens the executor of an environment the runner has
// checked (it exists, is the run's team's and is on a cluster). The
// server keeps one per environment and builds a new one when the
// environment or its cluster changed.
type ClusterExecutors interface {
	ForEnvironment(ctx context.Context, env store.Environment) (ClusterExecutor, error)
	// DefaultImage is what steps that name no image run in on a cluster;
	// "" makes image: required there.
	DefaultImage() string
}

// onCluster moves the run onto the cluster of the environment its
// pipeline names: it checks the environment and the steps' images, makes
// and seeds the run's workspace volume, and points env at them. The
// returned cleanup removes the volume and any pod left; call it once the
// run ended. An error is the run's failure, said as the user can act on.
func (r *Runner) onCluster(ctx context.Context, env *runEnv, url string) (func(), error) {
	name := env.p.ClusterEnv()
	e, err := r.st.GetEnvironment(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound) || (err == nil && e.Team != env.run.Team):
		// Another team's environment answers as a missing one, as in the API.
		return nil, fmt.Errorf(`executor.env: no environment named %q in the pipeline's team; see "berth env list" (executor.env: %s runs steps on the server)`, name, pipeline.LocalEnv)
	case err != nil:
		return nil, fmt.Errorf("executor.env: environment %s: %w", name, err)
	case e.Cluster == "":
		return nil, fmt.Errorf("executor.env: environment %s is not on a cluster; steps run in a cluster environment's namespace (executor.env: %s runs them on the server)", name, pipeline.LocalEnv)
	case r.opts.Clusters == nil:
		return nil, fmt.Errorf("executor.env: this server does not run steps on clusters; use executor.env: %s", pipeline.LocalEnv)
	}
	if missing := imagelessSteps(env.p, r.opts.Clusters.DefaultImage()); len(missing) > 0 {
		return nil, fmt.Errorf("%s: required when steps run on a cluster (executor.env: %s), as the server has no --pipeline-default-image", strings.Join(missing, ", "), name)
	}
	x, err := r.opts.Clusters.ForEnvironment(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("executor.env: environment %s: %w", name, err)
	}
	env.log.note("steps run as pods in environment %s (cluster %s, namespace %s)", e.Name, e.Cluster, e.Namespace)
	r.usedEnv(e.Name) // swept later even if the pipeline moves elsewhere
	runID := env.run.ID
	cleanup := func() {
		cctx, done := context.WithTimeout(context.WithoutCancel(ctx), finalWrite)
		defer done()
		if err := x.Cleanup(cctx, runID); err != nil {
			r.log.WarnContext(cctx, "removing a run's pods and workspace volume failed", "run", runID, "env", e.Name, "err", err)
		}
	}
	ws, err := x.Prepare(ctx, runID)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("workspace on environment %s: %w", e.Name, err)
	}
	env.log.note("seeding the workspace volume with %s", env.run.Commit)
	var secrets []string
	for _, s := range []string{env.auth.Token, string(env.auth.SSHKey)} {
		if s != "" {
			secrets = append(secrets, s)
		}
	}
	w := env.log.stepWriter("checkout", secrets)
	err = x.Checkout(ctx, runID, ws, gitsrc.Source{URL: url, Commit: env.run.Commit, Ref: env.run.Ref, Auth: env.auth}, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("checkout on environment %s: %w", e.Name, err)
	}
	env.ws, env.exec, env.onCluster = ws, x, true
	return cleanup, nil
}

// imagelessSteps lists the field paths of run steps with no image, when
// there is no default image to run them in.
func imagelessSteps(p *pipeline.Pipeline, defaultImage string) []string {
	if defaultImage != "" {
		return nil
	}
	var out []string
	for i, s := range p.Steps {
		if s.Kind() == pipeline.KindRun && s.Image == "" {
			out = append(out, fmt.Sprintf("steps[%d].image", i))
		}
	}
	return out
}

// cleanupCluster removes what an interrupted run left on a cluster (its
// pods and workspace claim, found by the run's label). A run's store
// record does not name its executor, so the environment is read from the
// app's pipeline as last read — by this run, unless a later one read a
// newer file; deleting by the run's label elsewhere deletes nothing. Best
// effort: an environment gone or a cluster unreachable leaves them, said
// in the server's log.
func (r *Runner) cleanupCluster(ctx context.Context, run store.Run) {
	if r.opts.Clusters == nil {
		return
	}
	ps, err := r.st.GetPipeline(ctx, run.App)
	if err != nil {
		return
	}
	var p pipeline.Pipeline
	if json.Unmarshal(ps.Definition, &p) != nil || p.ClusterEnv() == "" {
		return
	}
	name := p.ClusterEnv()
	cctx, done := context.WithTimeout(ctx, finalWrite)
	defer done()
	err = func() error {
		e, err := r.st.GetEnvironment(cctx, name)
		if err != nil {
			return err
		}
		if e.Team != run.Team || e.Cluster == "" {
			return nil
		}
		x, err := r.opts.Clusters.ForEnvironment(cctx, e)
		if err != nil {
			return err
		}
		return x.Cleanup(cctx, run.ID)
	}()
	if err != nil {
		r.log.WarnContext(ctx, "removing an interrupted run's pods and workspace volume failed", "run", run.ID, "env", name, "err", err)
	}
}
