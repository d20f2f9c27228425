package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
)

// StartRequest is a run to create.
type StartRequest struct {
	App string
	// Trigger is push, tag, pull_request, manual or schedule.
	Trigger pipeline.Event
	// Ref is the branch or tag; "" means the app's source.branch.
	Ref string
	// Commit is the exact commit (webhooks know it); "" means resolve Ref
	// when the run starts.
	Commit string
	Before string
	Params map[string]string
	Detail Detail
	// By is who or what started it (a token or user ID, a forge).
	By string
	// RerunOf is the run this one repeats.
	RerunOf string
}

// Detail is the trigger's particulars, kept with the run as JSON.
type Detail struct {
	Delivery     string   `json:"delivery,omitempty"`
	Forge        string   `json:"forge,omitempty"`
	Sender       string   `json:"sender,omitempty"`
	Branch       string   `json:"branch,omitempty"`
	Tag          string   `json:"tag,omitempty"`
	ChangedPaths []string `json:"changed_paths,omitempty"`
	PullRequest  int      `json:"pull_request,omitempty"`
	// FromFork marks a pull request from a fork: its steps get no secrets.
	FromFork bool `json:"from_fork,omitempty"`
	// SpecRelease is the app's release whose spec the run uses — its
	// source and, when berth.yaml has one, its pipeline section: the
	// target when the run was created. A rerun keeps it, as it keeps the
	// commit, so it runs the same definition.
	SpecRelease int `json:"spec_release,omitempty"`
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// RunID is the ID of run n of app: readable, and unique because numbers
// are per app and an app's runs go with it.
func RunID(app string, n int) string { return app + "." + strconv.Itoa(n) }

// Start creates a queued run; the dispatcher starts it when the limits
// allow. The app must name a source.git.
func (r *Runner) Start(ctx context.Context, req StartRequest) (store.Run, error) {
	for k, v := range req.Params {
		if !paramName.MatchString(k) || strings.HasPrefix(k, "BERTH_") {
			return store.Run{}, fmt.Errorf("%w: %q is not a parameter name (letters, digits and _, not starting with a digit or BERTH_)", pipeline.ErrBadParam, k)
		}
		if strings.ContainsRune(v, 0) {
			return store.Run{}, fmt.Errorf("%w: %s: the value holds a NUL byte", pipeline.ErrBadParam, k)
		}
	}
	if req.Ref != "" {
		if err := gitsrc.CheckRef(req.Ref); err != nil {
			return store.Run{}, fmt.Errorf("%w: ref: %w", pipeline.ErrBadParam, err)
		}
	}
	var run store.Run
	err := r.st.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, req.App)
		if err != nil {
			return err
		}
		if a.Deleting {
			return fmt.Errorf("app %s: %w", a.Name, release.ErrAppDeleting)
		}
		src, err := appSource(ctx, tx, a)
		if err != nil {
			return err
		}
		ref := req.Ref
		if ref == "" {
			ref = "refs/heads/" + src.Branch
		}
		n, err := tx.LastRunNumber(ctx, a.Name)
		if err != nil {
			return err
		}
		d := req.Detail
		if d.SpecRelease == 0 {
			d.SpecRelease = a.TargetRelease
		}
		detail, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("runner: %w", err)
		}
		now := r.opts.Now().UTC()
		run = store.Run{
			ID: RunID(a.Name, n+1), App: a.Name, Team: a.Team, Number: n + 1,
			Trigger: string(req.Trigger), Ref: ref, Commit: req.Commit, Before: req.Before,
			Params: maps.Clone(req.Params), Detail: detail, RerunOf: req.RerunOf, CreatedBy: req.By,
			State: store.RunQueued, CreatedAt: now, UpdatedAt: now,
		}
		return tx.CreateRun(ctx, run)
	})
	if err != nil {
		return store.Run{}, err
	}
	r.removeLog(run.ID) // a log left by an earlier app of the same name
	r.log.InfoContext(ctx, "pipeline run queued", "run", run.ID, "trigger", run.Trigger, "ref", run.Ref, "commit", run.Commit)
	r.poke()
	return run, nil
}

// Rerun queues a new run with the trigger, ref, commit and params of run id.
func (r *Runner) Rerun(ctx context.Context, id, by string) (store.Run, error) {
	old, err := r.st.GetRun(ctx, id)
	if err != nil {
		return store.Run{}, err
	}
	var d Detail
	if len(old.Detail) > 0 {
		if err := json.Unmarshal(old.Detail, &d); err != nil {
			return store.Run{}, fmt.Errorf("runner: run %s detail: %w", id, err)
		}
	}
	d.Delivery = ""
	return r.Start(ctx, StartRequest{
		App: old.App, Trigger: pipeline.Event(old.Trigger), Ref: old.Ref, Commit: old.Commit, Before: old.Before,
		Params: old.Params, Detail: d, By: by, RerunOf: old.ID,
	})
}

// Cancel stops run id: a queued run is cancelled at once, a running one
// has its steps' process groups killed by the driver. Cancelling an ended
// run is pipeline.ErrRunEnded.
func (r *Runner) Cancel(ctx context.Context, id, by string) (store.Run, error) {
	run, err := r.update(ctx, id, func(run *store.Run) error {
		if store.RunTerminal(run.State) {
			return pipeline.ErrRunEnded
		}
		run.CancelRequested = true
		if run.State == store.RunQueued {
			now := r.opts.Now().UTC()
			run.State, run.Reason, run.FinishedAt = store.RunCancelled, "cancelled by "+by+" before it started", now
		}
		return nil
	})
	if err != nil {
		return run, err
	}
	r.mu.Lock()
	a := r.active[id]
	r.mu.Unlock()
	if a != nil {
		a.cancel(fmt.Errorf("%w by %s", errCancelled, by))
	}
	r.log.InfoContext(ctx, "pipeline run cancel requested", "run", id, "by", by)
	return run, nil
}

var errCancelled = errors.New("cancelled")
