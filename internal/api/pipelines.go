package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Pipelines is the run driver as the API sees it; the server wires the
// pipeline runner in. Handlers authorize before calling it.
type Pipelines interface {
	// Source is app's berth.yaml source (repository, branch defaulted,
	// pipeline file, commit status); pipeline.ErrNoSource when it names
	// none.
	Source(ctx context.Context, app string) (spec.Source, error)
	StartRun(ctx context.Context, app, ref string, params map[string]string, by string) (store.Run, error)
	CancelRun(ctx context.Context, id, by string) (store.Run, error)
	RerunRun(ctx context.Context, id, by string) (store.Run, error)
	// Decide records p's decision (store.DecisionApprove or Reject) on the
	// run's waiting approval step; it checks p is one of its approvers.
	Decide(ctx context.Context, p rbac.Principal, id, decision, comment string) (store.Run, error)
	RunLogs(ctx context.Context, id string, follow bool) (io.ReadCloser, error)
	// ServeHook answers a forge's webhook for app, verifying it first.
	ServeHook(w http.ResponseWriter, r *http.Request, forge, app string)
	HookSecret(app string) string
}

// runIDRE is an app name, a dot and the run's number.
var runIDRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[1-9][0-9]{0,9}$`)

var hookForges = []string{"github", "gitea", "gitlab"}

func (s *server) pipelines() (Pipelines, error) {
	if s.Deps.Pipelines == nil {
		return nil, newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server does not run pipelines")
	}
	return s.Deps.Pipelines, nil
}

// pipelineError maps the run driver's errors to answers.
func pipelineError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pipeline.ErrNoSource):
		return conflict("%v: add source: {git: URL, branch: main} to berth.yaml and apply it", err)
	case errors.Is(err, pipeline.ErrRunEnded), errors.Is(err, pipeline.ErrNoApproval), errors.Is(err, pipeline.ErrDecided):
		return conflict("%v", err)
	case errors.Is(err, release.ErrAppDeleting):
		return conflict("%v", err)
	case errors.Is(err, pipeline.ErrNotApprover):
		return forbidden("%v", err)
	case errors.Is(err, pipeline.ErrBadParam):
		return invalidField("params", "%v", err)
	case errors.Is(err, store.ErrNotFound):
		return notFound("%v", err)
	}
	return err
}

// loadRun reads run {run} and authorizes perm in its team; a run of
// another team answers the same 404 as a missing one.
func (s *server) loadRun(r *http.Request, perm rbac.Permission) (store.Run, error) {
	id := r.PathValue("run")
	if !runIDRE.MatchString(id) {
		return store.Run{}, invalidField("run", "%q is not a run ID (APP.NUMBER, e.g. shop.12)", id)
	}
	nf := notFound("run %q not found", id)
	run, err := s.Store.GetRun(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, nf
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	if err := s.authorize(r.Context(), run.Team, perm, nf); err != nil {
		return store.Run{}, err
	}
	return run, nil
}

// pathAppFor reads the app named by {app} and authorizes perm in its team.
func (s *server) pathAppFor(r *http.Request, perm rbac.Permission) (store.App, error) {
	name, err := appParam(r)
	if err != nil {
		return store.App{}, err
	}
	return s.loadApp(r.Context(), s.Store, name, perm)
}

func subject(ctx context.Context) string {
	if p, ok := principalFrom(ctx); ok {
		return p.Subject
	}
	return ""
}

func (s *server) listPipelines(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	apps, err := s.Store.ListApps(r.Context())
	if err != nil {
		return fmt.Errorf("list apps: %w", err)
	}
	out := []api.Pipeline{}
	for _, a := range apps {
		if s.authorize(r.Context(), a.Team, rbac.PipelinesRead, errHidden) != nil {
			continue
		}
		p, err := s.pipelineOf(r.Context(), pl, a, false)
		if errors.Is(err, pipeline.ErrNoSource) {
			continue
		}
		if err != nil {
			return err
		}
		out = append(out, p)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

var errHidden = errors.New("hidden")

func (s *server) getPipeline(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	a, err := s.pathAppFor(r, rbac.PipelinesRead)
	if err != nil {
		return err
	}
	p, _ := principalFrom(r.Context())
	out, err := s.pipelineOf(r.Context(), pl, a, p.Can(a.Team, rbac.PipelinesRun))
	if err != nil {
		return pipelineError(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) pipelineOf(ctx context.Context, pl Pipelines, a store.App, withSecret bool) (api.Pipeline, error) {
	src, err := pl.Source(ctx, a.Name)
	if err != nil {
		return api.Pipeline{}, err
	}
	out := api.Pipeline{
		App: a.Name, Team: a.Team, Git: src.Git, Branch: src.Branch, File: src.PipelinePath(), Status: src.Status,
		Hooks: map[string]string{},
	}
	for _, f := range hookForges {
		out.Hooks[f] = "/api/v1/hooks/" + f + "/" + a.Name
	}
	if withSecret {
		out.HookSecret = pl.HookSecret(a.Name)
	}
	st, err := s.Store.GetPipeline(ctx, a.Name)
	switch {
	case err == nil:
		out.Schedule, out.Commit, out.Definition = st.Schedule, st.Commit, st.Definition
		out.Executor = executorOf(st.Definition)
	case !errors.Is(err, store.ErrNotFound):
		return api.Pipeline{}, fmt.Errorf("get pipeline %s: %w", a.Name, err)
	}
	if err := s.sectionOf(ctx, a, &out); err != nil {
		return api.Pipeline{}, err
	}
	runs, err := s.Store.ListRuns(ctx, store.RunFilter{App: a.Name, Limit: 1})
	if err != nil {
		return api.Pipeline{}, fmt.Errorf("list runs: %w", err)
	}
	if len(runs) > 0 {
		last := toAPIRun(runs[0], nil)
		out.LastRun = &last
	}
	return out, nil
}

func (s *server) startRun(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	var req api.RunRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	a, err := s.pathAppFor(r, rbac.PipelinesRun)
	if err != nil {
		return err
	}
	run, err := pl.StartRun(r.Context(), a.Name, req.Ref, req.Params, subject(r.Context()))
	if err != nil {
		return pipelineError(err)
	}
	writeJSON(w, http.StatusCreated, toAPIRun(run, nil))
	return nil
}

func (s *server) listRuns(w http.ResponseWriter, r *http.Request) error {
	f := store.RunFilter{App: r.URL.Query().Get("app"), Limit: 50}
	if r.PathValue("app") != "" {
		a, err := s.pathAppFor(r, rbac.PipelinesRead)
		if err != nil {
			return err
		}
		f.App = a.Name
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return invalidField("limit", "%q is not a number from 1 to 1000", v)
		}
		f.Limit = n
	}
	if v := r.URL.Query().Get("state"); v != "" {
		switch v {
		case api.RunQueued, api.RunRunning, api.RunSucceeded, api.RunFailed, api.RunCancelled:
			f.States = []string{v}
		default:
			return invalidField("state", "%q is not one of queued, running, succeeded, failed, cancelled", v)
		}
	}
	if !s.inEveryTeam(r.Context(), rbac.PipelinesRead) {
		mine, err := s.teamsWith(r.Context(), rbac.PipelinesRead)
		if err != nil {
			return err
		}
		f.Teams = slices.Sorted(maps.Keys(mine))
	}
	runs, err := s.Store.ListRuns(r.Context(), f)
	if err != nil {
		return fmt.Errorf("list runs: %w", err)
	}
	out := []api.Run{}
	for _, run := range runs {
		if s.authorize(r.Context(), run.Team, rbac.PipelinesRead, errHidden) != nil {
			continue
		}
		out = append(out, toAPIRun(run, nil))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getRun(w http.ResponseWriter, r *http.Request) error {
	run, err := s.loadRun(r, rbac.PipelinesRead)
	if err != nil {
		return err
	}
	approvals, err := s.Store.ListApprovals(r.Context(), run.ID)
	if err != nil {
		return fmt.Errorf("list approvals: %w", err)
	}
	writeJSON(w, http.StatusOK, toAPIRun(run, approvals))
	return nil
}

func (s *server) cancelRun(w http.ResponseWriter, r *http.Request) error {
	return s.runAction(w, r, http.StatusAccepted, Pipelines.CancelRun)
}

func (s *server) rerunRun(w http.ResponseWriter, r *http.Request) error {
	return s.runAction(w, r, http.StatusCreated, Pipelines.RerunRun)
}

// runAction loads run {run} for pipelines:run in its team, hands it to the
// driver's action and answers the run the action returns with status.
func (s *server) runAction(w http.ResponseWriter, r *http.Request, status int,
	action func(p Pipelines, ctx context.Context, id, by string) (store.Run, error)) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	run, err := s.loadRun(r, rbac.PipelinesRun)
	if err != nil {
		return err
	}
	run, err = action(pl, r.Context(), run.ID, subject(r.Context()))
	if err != nil {
		return pipelineError(err)
	}
	writeJSON(w, status, toAPIRun(run, nil))
	return nil
}

func (s *server) approveRun(w http.ResponseWriter, r *http.Request) error {
	return s.decide(w, r, store.DecisionApprove)
}

func (s *server) rejectRun(w http.ResponseWriter, r *http.Request) error {
	return s.decide(w, r, store.DecisionReject)
}

func (s *server) decide(w http.ResponseWriter, r *http.Request, decision string) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	var req api.DecisionRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Comment) > 2000 {
		return invalidField("comment", "%d characters; at most 2000", len(req.Comment))
	}
	run, err := s.loadRun(r, rbac.ApprovalsDecide)
	if err != nil {
		return err
	}
	p, _ := principalFrom(r.Context())
	if _, err := pl.Decide(r.Context(), p, run.ID, decision, req.Comment); err != nil {
		return pipelineError(err)
	}
	run, err = s.Store.GetRun(r.Context(), run.ID)
	if err != nil {
		return fmt.Errorf("get run: %w", err)
	}
	approvals, err := s.Store.ListApprovals(r.Context(), run.ID)
	if err != nil {
		return fmt.Errorf("list approvals: %w", err)
	}
	writeJSON(w, http.StatusOK, toAPIRun(run, approvals))
	return nil
}

// runLogs streams a run's log as text, chunk by chunk as it is written;
// with follow=true until the run ends.
func (s *server) runLogs(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	follow := false
	if v := r.URL.Query().Get("follow"); v != "" {
		if follow, err = strconv.ParseBool(v); err != nil {
			return invalidField("follow", "%q is not true or false", v)
		}
	}
	run, err := s.loadRun(r, rbac.PipelinesRead)
	if err != nil {
		return err
	}
	rc, err := pl.RunLogs(r.Context(), run.ID, follow)
	if err != nil {
		return pipelineError(err)
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-cache")
	ctl := http.NewResponseController(w)
	_ = ctl.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	_ = ctl.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, err := rc.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil
			}
			_ = ctl.Flush()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && r.Context().Err() == nil {
				s.loggerFrom(r.Context()).Warn("run log stream ended", "run", run.ID, "err", err)
			}
			return nil
		}
	}
}

// hook is public: the forge proves itself with the hook's secret, which
// the run driver checks before it reads anything of the body.
func (s *server) hook(w http.ResponseWriter, r *http.Request) error {
	pl, err := s.pipelines()
	if err != nil {
		return err
	}
	app := r.PathValue("app")
	if !appNameRE.MatchString(app) {
		return notFound("no webhook here")
	}
	pl.ServeHook(w, r, r.PathValue("forge"), app)
	return nil
}

func toAPIRun(r store.Run, approvals []store.Approval) api.Run {
	out := api.Run{
		ID: r.ID, App: r.App, Team: r.Team, Number: r.Number, Trigger: r.Trigger, Ref: r.Ref, Commit: r.Commit,
		Params: r.Params, RerunOf: r.RerunOf, By: r.CreatedBy, State: r.State, Reason: r.Reason, ExitCode: r.ExitCode,
		CancelRequested: r.CancelRequested, Steps: make([]api.RunStep, 0, len(r.Steps)),
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
	}
	var d struct {
		SpecRelease int `json:"spec_release"` // runner.Detail's
	}
	if json.Unmarshal(r.Detail, &d) == nil {
		out.SpecRelease = d.SpecRelease
	}
	for _, st := range r.Steps {
		s := api.RunStep{Name: st.Name, Kind: st.Kind, Status: st.Status, Attempt: st.Attempt, ExitCode: st.ExitCode,
			Reason: st.Reason, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt}
		if !st.StartedAt.IsZero() && !st.FinishedAt.IsZero() {
			s.DurationMS = st.FinishedAt.Sub(st.StartedAt).Milliseconds()
		}
		s.Artifacts = toAPIArtifacts(st)
		if c := st.Cache; c != nil {
			s.Cache = &api.StepCache{Key: c.Key, Hit: c.Hit, Saved: c.Saved}
		}
		out.Steps = append(out.Steps, s)
	}
	for _, a := range approvals {
		out.Approvals = append(out.Approvals, api.Approval{Step: a.Step, Who: a.Who, Decision: a.Decision, Comment: a.Comment, Time: a.Time})
	}
	return out
}

// executorOf says where the steps of a stored definition run: "local" or
// the environment its executor.env names.
func executorOf(def []byte) string {
	var p pipeline.Pipeline
	if len(def) == 0 || json.Unmarshal(def, &p) != nil {
		return ""
	}
	if env := p.ClusterEnv(); env != "" {
		return env
	}
	return pipeline.LocalEnv
}
