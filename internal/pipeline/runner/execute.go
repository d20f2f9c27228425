package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/pipeline/sched"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
)

// finalWrite bounds the last writes of a run whose context ended (the
// server is stopping): they must still land.
const finalWrite = 10 * time.Second

// outcome is how a run ended.
type outcome struct {
	state, reason string
	exitCode      int
}

func failed(format string, args ...any) outcome {
	return outcome{state: store.RunFailed, reason: fmt.Sprintf(format, args...), exitCode: 1}
}

// runEnv is what the steps of one run share.
type runEnv struct {
	run    store.Run
	act    *activeRun
	detail Detail
	p      *pipeline.Pipeline
	ws     executor.Workspace
	// exec runs the run's steps: the server's executor, or an
	// environment's (executor.env) once the run moved onto its cluster.
	exec    executor.Executor
	log     *runLog
	params  map[string]string
	sched   *sched.Run
	started map[string]time.Time
	ended   map[string]time.Time
	// auth is the credential the server fetches the repository with.
	auth gitsrc.Auth
	// pipelineFile is the pipeline's path in the repository.
	pipelineFile string
	// status reports to the forge; nil when source.status is unset.
	status *commitStatus
	// artifacts records the archives the run's steps kept.
	artifacts keptArtifacts
	// onCluster is set once the run's steps run as pods (executor.env).
	onCluster bool
	// srcDir is the server's own checkout of the run's commit: cache keys
	// of steps on a cluster are expanded against it.
	srcDir string
}

// execute drives one run from checkout to its end state. It always writes
// an end state, also when the server is stopping.
func (r *Runner) execute(ctx context.Context, run store.Run, a *activeRun) {
	log := r.log.With("run", run.ID)
	rl, err := r.openLog(run.ID)
	var res outcome
	env := &runEnv{run: run, act: a, log: rl, started: map[string]time.Time{}, ended: map[string]time.Time{}}
	if err != nil {
		res = failed("opening the run's log: %v", err)
	} else {
		res = r.drive(ctx, env)
	}
	// A step or checkout that failed because the run's context ended failed
	// for that reason: a cancel, or the server stopping.
	if rl != nil {
		// A reason is shown by the API: no secret of the run in it.
		res.reason = rl.mask(res.reason)
	}
	if ctx.Err() != nil && res.state != store.RunSucceeded {
		cause := context.Cause(ctx)
		switch {
		case !errors.Is(cause, errCancelled):
			res = failed("the server stopped during the run; re-run it with: berth run rerun %s", run.ID)
		case res.state == store.RunFailed:
			res = outcome{state: store.RunCancelled, reason: "run " + cause.Error()}
		}
	}
	if rl != nil {
		// The log is complete before the end state is written: a follower
		// that sees the run ended has read everything.
		rl.note("run %s: %s", res.state, res.reason)
		r.reportStatus(context.WithoutCancel(ctx), env, res.state, res.reason)
		if err := rl.Close(); err != nil {
			log.WarnContext(ctx, "closing a run log failed", "err", err)
		}
	}
	wctx, done := context.WithTimeout(context.WithoutCancel(ctx), finalWrite)
	defer done()
	_, err = r.update(wctx, run.ID, func(run *store.Run) error {
		now := r.opts.Now().UTC()
		run.State, run.Reason, run.ExitCode, run.FinishedAt = res.state, res.reason, res.exitCode, now
		for i := range run.Steps {
			if s := &run.Steps[i]; !sched.Status(s.Status).Terminal() {
				s.Status, s.Reason = string(sched.Cancelled), "the run ended: "+res.reason
				if s.FinishedAt.IsZero() && !s.StartedAt.IsZero() {
					s.FinishedAt = now
				}
			}
		}
		return nil
	})
	if err != nil {
		log.ErrorContext(wctx, "writing a run's end state failed", "err", err)
	}
	log.InfoContext(wctx, "pipeline run ended", "state", res.state, "reason", res.reason)
}

// drive does the work of execute and says how the run ended.
func (r *Runner) drive(ctx context.Context, env *runEnv) outcome {
	run, a, rl := env.run, env.act, env.log
	if len(run.Detail) > 0 {
		if err := json.Unmarshal(run.Detail, &env.detail); err != nil {
			return failed("reading the run's trigger: %v", err)
		}
	}
	app, err := r.st.GetApp(ctx, run.App)
	if err != nil {
		return failed("%v", err)
	}
	specRelease := env.detail.SpecRelease
	if specRelease == 0 {
		specRelease = app.TargetRelease // a run queued before runs recorded it
	}
	src, specJSON, err := releaseSource(ctx, r.st, app, specRelease)
	if err != nil {
		return failed("%v", err)
	}
	if env.auth, err = r.gitAuth(ctx, env, src); err != nil {
		return failed("%v", err)
	}
	if run.Commit == "" {
		rl.note("resolving %s in %s", run.Ref, src.Git)
		ref, commit, err := gitsrc.Resolve(ctx, src.Git, run.Ref, env.auth)
		if err != nil {
			return failed("resolving %s: %v", run.Ref, fetchError(run.App, src, err))
		}
		run, err = r.update(ctx, run.ID, func(s *store.Run) error { s.Ref, s.Commit = ref, commit; return nil })
		if err != nil {
			return failed("recording the commit: %v", err)
		}
		env.run = run
	}
	dir := filepath.Join(r.opts.WorkDir, run.ID)
	_ = os.RemoveAll(dir)
	if !r.opts.KeepWorkspaces {
		defer os.RemoveAll(dir)
	}
	rl.note("checking out %s (%s) from %s", run.Commit, run.Ref, src.Git)
	srcDir := executor.Layout(dir).Src
	env.srcDir = srcDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return failed("workspace: %v", err)
	}
	if err := gitsrc.Checkout(ctx, r.log, gitsrc.Source{URL: src.Git, Commit: run.Commit, Ref: run.Ref, Auth: env.auth}, srcDir); err != nil {
		return failed("checkout: %v", fetchError(run.App, src, err))
	}
	if env.status, err = r.newCommitStatus(src, env.auth.Token, run.Commit); err != nil {
		rl.note("commit status will not be reported: %v", err)
	}
	trig := r.trigger(ctx, env, srcDir)
	if env.ws, err = r.opts.Executor.Prepare(ctx, dir); err != nil {
		return failed("workspace: %v", err)
	}
	env.pipelineFile = src.PipelinePath()
	if env.p, err = pipeline.FromSpec(specJSON); err != nil {
		return failed("release %d: %v", specRelease, err)
	}
	if env.p != nil {
		rl.note("%s", sectionNote(srcDir, env.pipelineFile, specRelease))
		env.pipelineFile = pipeline.SectionSource
	} else if env.p, err = readPipeline(srcDir, env.pipelineFile); err != nil {
		var ve *spec.ValidationError
		if errors.As(err, &ve) {
			for _, p := range ve.Problems {
				rl.note("%s", problemLine(env.pipelineFile, p))
			}
			return failed("%s is invalid: %s", env.pipelineFile, problemLines(ve.Problems))
		}
		return failed("%v", err)
	}
	r.mu.Lock()
	a.p = env.p
	r.mu.Unlock()
	r.remember(ctx, env)
	if !slices.Contains(env.p.On, trig.Event) {
		rl.note("the pipeline does not run on %s events (on: %v)", trig.Event, env.p.On)
		env.status = nil // a commit the pipeline ignores gets no status
		return outcome{state: store.RunCancelled, reason: fmt.Sprintf("not run: the pipeline's on: does not list %s", trig.Event)}
	}
	r.reportStatus(ctx, env, store.RunRunning, "running "+env.pipelineFile)
	if env.params, err = params(env.p, run.Params); err != nil {
		return failed("%v", err)
	}
	if env.sched, err = sched.New(env.p, trig, sched.Options{Parallelism: r.opts.StepParallelism}); err != nil {
		return failed("%v", err)
	}
	env.exec = r.opts.Executor
	if env.p.ClusterEnv() != "" {
		cleanup, err := r.onCluster(ctx, env, src.Git)
		if err != nil {
			return failed("%v", fetchError(run.App, src, err))
		}
		defer cleanup()
	}
	return r.schedule(ctx, env)
}

// trigger is what the run's `when` conditions see. Changed paths come from
// the webhook, else from comparing the pushed commit with the one before.
func (r *Runner) trigger(ctx context.Context, env *runEnv, srcDir string) pipeline.Trigger {
	run := env.run
	t := pipeline.Trigger{Event: pipeline.Event(run.Trigger), ChangedPaths: env.detail.ChangedPaths}
	switch {
	case env.detail.Branch != "" || env.detail.Tag != "":
		t.Branch, t.Tag = env.detail.Branch, env.detail.Tag
	case strings.HasPrefix(run.Ref, "refs/heads/"):
		t.Branch = strings.TrimPrefix(run.Ref, "refs/heads/")
	case strings.HasPrefix(run.Ref, "refs/tags/"):
		t.Tag = strings.TrimPrefix(run.Ref, "refs/tags/")
	}
	if t.ChangedPaths == nil && run.Before != "" && run.Before != gitsrc.ZeroCommit {
		paths, err := gitsrc.ChangedPaths(ctx, srcDir, run.Before, run.Commit, env.auth)
		if err != nil {
			env.log.note("changed paths unknown (%v): path conditions match", err)
		} else {
			t.ChangedPaths = paths
		}
	}
	return t
}

// readPipeline reads the pipeline file of the checkout through a rooted
// view, so a symlink in the repository cannot make the server read a file
// of its own.
func readPipeline(srcDir, name string) (*pipeline.Pipeline, error) {
	root, err := os.OpenRoot(srcDir)
	if err != nil {
		return nil, fmt.Errorf("checkout: %w", err)
	}
	defer root.Close()
	data, err := readRegular(root, name, pipeline.MaxSize+1)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the repository has no %s at this commit", name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return pipeline.Parse(data)
}

func problemLine(file string, p spec.Problem) string {
	s := file
	if p.Line > 0 {
		s += fmt.Sprintf(":%d", p.Line)
	}
	if p.Path != "" {
		s += ": " + p.Path
	}
	return s + ": " + p.Message
}

func problemLines(ps []spec.Problem) string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.Path != "" {
			out = append(out, p.Path+": "+p.Message)
		} else {
			out = append(out, p.Message)
		}
	}
	return strings.Join(out, "; ")
}

// params merges the run's parameters over the pipeline's defaults.
func params(p *pipeline.Pipeline, given map[string]string) (map[string]string, error) {
	out := map[string]string{}
	declared := map[string]bool{}
	for _, d := range p.Params {
		declared[d.Name] = true
		v, ok := given[d.Name]
		switch {
		case ok:
			out[d.Name] = v
		case d.Required:
			return nil, fmt.Errorf("parameter %s is required: start the run with --param %s=VALUE", d.Name, d.Name)
		default:
			out[d.Name] = d.Default
		}
	}
	for k := range given {
		if !declared[k] {
			return nil, fmt.Errorf("parameter %s is not declared in the pipeline's params", k)
		}
	}
	return out, nil
}

// remember stores the pipeline definition and schedule read from the
// app's own branch, for `pipeline show` and the cron loop.
func (r *Runner) remember(ctx context.Context, env *runEnv) {
	run := env.run
	if run.Trigger == string(pipeline.EventPullRequest) {
		return
	}
	def, err := json.Marshal(env.p)
	if err != nil {
		return
	}
	prev, err := r.st.GetPipeline(ctx, run.App)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	now := r.opts.Now().UTC()
	ps := store.PipelineState{App: run.App, Team: run.Team, Definition: def, Commit: run.Commit, Schedule: env.p.Schedule, LastScheduled: prev.LastScheduled, UpdatedAt: now}
	if prev.Schedule != ps.Schedule {
		ps.LastScheduled = now // a new schedule counts from now
	}
	if err := r.st.PutPipeline(ctx, ps); err != nil {
		r.log.WarnContext(ctx, "remembering a pipeline failed", "app", run.App, "err", err)
	}
}
