package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/store"
)

// runStep runs one attempt of step and says how it ended.
func (r *Runner) runStep(ctx context.Context, env *runEnv, step *pipeline.Step, outcomeSoFar string) sched.Outcome {
	env.log.note("step %s started", step.Name)
	switch step.Kind() {
	case pipeline.KindRun:
		return r.shellStep(ctx, env, step)
	case pipeline.KindDeploy:
		return r.deployStep(ctx, env, step)
	case pipeline.KindApproval:
		return r.approvalStep(ctx, env, step)
	case pipeline.KindNotify:
		return r.notifyStep(ctx, env, step, outcomeSoFar)
	}
	return sched.Outcome{ExitCode: 1, Reason: "the step has no kind"}
}

// stepFailed is the outcome of a step that could not do its work; a
// cancelled run makes it a cancelled step instead.
func stepFailed(ctx context.Context, format string, args ...any) sched.Outcome {
	if ctx.Err() != nil {
		return sched.Outcome{Cancelled: true, ExitCode: 1, Reason: "cancelled"}
	}
	return sched.Outcome{ExitCode: 1, Reason: fmt.Sprintf(format, args...)}
}

// shellStep runs a `run` step through the executor, with its secrets
// masked in its log.
func (r *Runner) shellStep(ctx context.Context, env *runEnv, step *pipeline.Step) sched.Outcome {
	secrets, err := r.secretsFor(ctx, env, step)
	if err != nil {
		env.log.note("step %s: %v", step.Name, err)
		return stepFailed(ctx, "%v", err)
	}
	vars := maps.Clone(env.params)
	maps.Copy(vars, step.Env)
	vars["BERTH_RUN"] = env.run.ID
	vars["BERTH_APP"] = env.run.App
	vars["BERTH_COMMIT"] = env.run.Commit
	vars["BERTH_REF"] = env.run.Ref
	vars["BERTH_TRIGGER"] = env.run.Trigger
	// With BERTH_RUN, lets a restarted server find and kill the processes
	// of a run it can no longer drive (see killOrphans).
	vars["BERTH_WORKSPACE"] = env.ws.Root
	values := slices.Collect(maps.Values(secrets))
	env.log.addSecrets(values)
	w := env.log.stepWriter(step.Name, values)
	spec := executor.StepSpec{
		RunID: env.run.ID, Name: step.Name, Script: step.Run, Image: step.Image,
		Env: vars, Secrets: secrets, Timeout: step.Timeout.D(), Workspace: env.ws,
		// One folder per step (its archive holds its own files only),
		// outside the workspace: the step user owns the workspace and could
		// plant a symlink where the server, as root, copies files to.
		Artifacts: step.Artifacts, ArtifactDir: r.stagingDir(env.run.ID, step.Name),
	}
	if step.Cache != nil {
		spec.Cache = &executor.CacheSpec{Key: step.Cache.Key, Paths: step.Cache.Paths, Dir: r.cacheDir(env.run.App)}
	}
	if env.onCluster && (len(step.Artifacts) > 0 || step.Cache != nil) {
		if err := r.awayFromServer(ctx, env, step, &spec); err != nil {
			env.log.note("step %s: %v", step.Name, err)
			return stepFailed(ctx, "%v", err)
		}
	}
	res, err := env.exec.Run(ctx, spec, w)
	if cerr := w.Close(); cerr != nil && err == nil {
		err = cerr
	}
	switch {
	case res.Cancelled:
		return sched.Outcome{Cancelled: true, ExitCode: res.ExitCode, Reason: "cancelled; its processes were stopped"}
	case err != nil:
		env.log.note("step %s: %v", step.Name, env.log.mask(err.Error()))
		return stepFailed(ctx, "%s", env.log.mask(err.Error()))
	case res.TimedOut:
		return sched.Outcome{ExitCode: res.ExitCode, Reason: fmt.Sprintf("timed out after %s", step.Timeout.D())}
	case res.ExitCode != 0:
		return sched.Outcome{ExitCode: res.ExitCode, Reason: fmt.Sprintf("exit code %d", res.ExitCode)}
	}
	if res.CacheKey != "" {
		// The local executor's account; on a cluster the server's routes
		// record hits and saves on the step as they happen.
		env.artifacts.keepCache(step.Name, &store.StepCache{Key: res.CacheKey, Hit: res.CacheHit, Saved: res.CacheSaved})
	}
	if len(res.Artifacts) > 0 {
		// Artifacts that cannot be kept fail the step: a later step or
		// release counting on them must not go on without them.
		err := r.keepArtifacts(ctx, env, step.Name, spec.ArtifactDir, res.Artifacts)
		r.dropStaging(env.run.ID, step.Name)
		if err != nil {
			env.log.note("step %s: %v", step.Name, err)
			return stepFailed(ctx, "%v", err)
		}
	}
	return sched.Outcome{}
}

// awayFromServer gives a step that runs as a pod what its agent needs:
// the token, the artifact upload URL, and for a cache the key the server
// expands against its own checkout of the run's commit (the agent never
// chooses it) and the URL the pod restores and saves it through.
func (r *Runner) awayFromServer(ctx context.Context, env *runEnv, step *pipeline.Step, spec *executor.StepSpec) error {
	key := ""
	if step.Cache != nil {
		var err error
		if key, err = pipeline.ExpandCacheKeyIn(env.srcDir, step.Cache.Key); err != nil {
			return fmt.Errorf("cache key of step %s: %w", step.Name, err)
		}
	}
	up, err := r.uploadFor(ctx, env, step.Name, key)
	if err != nil {
		return err
	}
	spec.Upload = up
	if step.Cache != nil {
		spec.Cache.Key, spec.Cache.Dir, spec.Cache.URL = key, "", r.stepURL(env, "cache", step.Name)
	}
	return nil
}

// secretsFor resolves the secrets step names. Runs of pull requests from
// forks get none: anyone can open one.
func (r *Runner) secretsFor(ctx context.Context, env *runEnv, step *pipeline.Step) (map[string]string, error) {
	if len(step.Secrets) == 0 {
		return map[string]string{}, nil
	}
	if env.detail.FromFork {
		return nil, fmt.Errorf("step %s asks for secrets (%s), which runs of pull requests from forks never get", step.Name, strings.Join(step.Secrets, ", "))
	}
	got, err := r.opts.Secrets.Resolve(ctx, env.run.Team, env.run.App, step.Secrets)
	if err != nil {
		return nil, fmt.Errorf("secrets for step %s: %w", step.Name, err)
	}
	for _, n := range step.Secrets {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("secrets for step %s: %w", step.Name, errors.New("secret "+n+" does not exist"))
		}
	}
	return got, nil
}
