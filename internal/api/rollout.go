package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Canary releases. The handlers only write the desired state, the app's
// store.Canary (and, for abort, the release's end); the reconciler runs the
// canary's instances beside the serving release's, and the route feed
// splits traffic by the weight written here.

// MaxCanaryWeight is the largest weight a canary takes by hand; 100 is
// what promote gives it.
const MaxCanaryWeight = 99

// errCanaryConflict is returned inside transactions when a call cannot act
// on the app's canary (none runs, one runs already, nothing to canary);
// handlers answer 409 with the reason.
type errCanaryConflict struct{ msg string }

func (e *errCanaryConflict) Error() string { return e.msg }

// rollout starts a canary of the target release ({"canary": N}) or moves
// the running one ({"weight": N}).
func (s *server) rollout(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	var req api.RolloutRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	field, weight := "", 0
	switch {
	case req.Canary != nil && req.Weight != nil:
		return newError(http.StatusUnprocessableEntity, api.CodeInvalid,
			"set canary (start a canary) or weight (move the running one), not both").
			withDetails(api.FieldError{Field: "canary", Message: "set together with weight"},
				api.FieldError{Field: "weight", Message: "set together with canary"})
	case req.Canary != nil:
		field, weight = "canary", *req.Canary
	case req.Weight != nil:
		field, weight = "weight", *req.Weight
	default:
		return newError(http.StatusUnprocessableEntity, api.CodeInvalid,
			"required: canary (start a canary of the target release at that weight) or weight (move the running canary)").
			withDetails(api.FieldError{Field: "canary", Message: "required unless weight is set"},
				api.FieldError{Field: "weight", Message: "required unless canary is set"})
	}
	if weight < 0 || weight > MaxCanaryWeight {
		return invalidField(field, "%d is out of range (0-%d percent; promote the canary to give it all the traffic)", weight, MaxCanaryWeight)
	}
	return s.changeCanary(w, r, name, func(ctx context.Context, tx store.Tx, c *canaryCall) error {
		now := s.Now().UTC()
		if field == "canary" {
			if err := c.start(weight, now); err != nil {
				return err
			}
			c.resp.Action = api.RolloutCanary
			return nil
		}
		if err := c.requireCanary(now); err != nil {
			return err
		}
		if c.app.Canary.Promote {
			return &errCanaryConflict{fmt.Sprintf("the canary of release %d is being promoted; it can no longer be moved", c.app.Canary.Release)}
		}
		c.app.Canary.Weight, c.app.Canary.StepStartedAt = weight, now
		// A weight of one of the release's steps goes on with the steps
		// from there (so "berth rollout --weight 50" continues a plan that
		// waits for a hand); any other weight takes the canary off them.
		c.app.Canary.Manual = true
		for i, st := range c.steps {
			if st.Weight == weight {
				c.app.Canary.Step, c.app.Canary.Manual = i, false
			}
		}
		c.resp.Action = api.RolloutWeight
		return nil
	})
}

// promote makes the canary the serving release: the reconciler rolls it to
// full replicas, then stops the stable release.
func (s *server) promote(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	return s.changeCanary(w, r, name, func(ctx context.Context, tx store.Tx, c *canaryCall) error {
		now := s.Now().UTC()
		if err := c.requireCanary(now); err != nil {
			return err
		}
		if !c.app.Canary.Promote {
			c.app.Canary.Promote, c.app.Canary.StepStartedAt = true, now
		}
		c.resp.Action = api.RolloutPromote
		return nil
	})
}

// abort ends the canary: its release is marked failed (Aborted), so the
// reconciler stops its instances and all traffic goes back to the stable
// release at once.
func (s *server) abort(w http.ResponseWriter, r *http.Request) error {
	name, err := appParam(r)
	if err != nil {
		return err
	}
	return s.changeCanary(w, r, name, func(ctx context.Context, tx store.Tx, c *canaryCall) error {
		now := s.Now().UTC()
		if err := c.requireCanary(now); err != nil {
			return err
		}
		rel := c.target
		rel.State, rel.Reason = api.ReleaseFailed, api.ReasonAborted
		rel.Message = fmt.Sprintf("canary aborted at %d %%; release %d serves all traffic", c.app.Canary.Weight, c.serving)
		rel.UpdatedAt = now
		if _, err := tx.UpdateRelease(ctx, rel); err != nil {
			return fmt.Errorf("update release %s/%d: %w", rel.App, rel.Number, err)
		}
		out := toAPIRelease(rel)
		out.Spec = nil // events carry no spec: it is large and never changes
		data, err := json.Marshal(out)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if _, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventReleaseUpdated, App: rel.App, Release: rel.Number, Time: now, Data: data}); err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		c.resp.Action, c.resp.Weight = api.RolloutAbort, 0
		c.app.Canary = nil
		return nil
	})
}

// canaryCall is what one rollout, promote or abort call read and changes.
type canaryCall struct {
	app     store.App
	target  store.Release
	steps   []spec.CanaryStep
	serving int // the newest deployed release, 0 if none
	canary  bool
	resp    api.RolloutResponse
}

// changeCanary runs fn on the app in a transaction, then stores the app
// with an app.rollout event and answers with what changed.
func (s *server) changeCanary(w http.ResponseWriter, r *http.Request, name string,
	fn func(ctx context.Context, tx store.Tx, c *canaryCall) error) error {
	ctx := r.Context()
	var resp api.RolloutResponse
	err := s.inTx(ctx, func(tx store.Tx) error {
		c, err := s.readCanaryCall(ctx, tx, name)
		if err != nil {
			return err
		}
		if err := fn(ctx, tx, c); err != nil {
			return err
		}
		now := s.Now().UTC()
		c.resp.App, c.resp.Release, c.resp.Stable = name, c.target.Number, c.serving
		if c.app.Canary != nil {
			c.resp.Weight = c.app.Canary.Weight
		}
		c.app.UpdatedAt = now
		if _, err := tx.UpdateApp(ctx, c.app); err != nil {
			return fmt.Errorf("update app %s: %w", name, err)
		}
		data, err := json.Marshal(c.resp)
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		rev, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventAppRollout, App: name, Release: c.target.Number, Time: now, Data: data})
		if err != nil {
			return fmt.Errorf("append event: %w", err)
		}
		c.resp.Revision = rev
		resp = c.resp
		return nil
	})
	var nc *errCanaryConflict
	switch {
	case errors.Is(err, errAppDeleting):
		return conflict("app %q is being deleted", name)
	case errors.As(err, &nc):
		return conflict("%s", nc.msg)
	case err != nil:
		return err
	}
	s.loggerFrom(ctx).Info("canary changed", "app", name, "action", resp.Action, "release", resp.Release, "weight", resp.Weight)
	s.changed(name)
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// readCanaryCall loads the app, its target release and its serving one.
func (s *server) readCanaryCall(ctx context.Context, tx store.Tx, name string) (*canaryCall, error) {
	a, err := s.loadApp(ctx, tx, name, rbac.AppsDeploy)
	if err != nil {
		return nil, err
	}
	if a.Deleting {
		return nil, errAppDeleting
	}
	c := &canaryCall{app: a}
	if a.TargetRelease == 0 {
		return nil, &errCanaryConflict{fmt.Sprintf("app %q has no release yet", name)}
	}
	rels, err := tx.ListReleases(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("list releases of %s: %w", name, err)
	}
	found := false
	for _, rel := range rels {
		if rel.State == api.ReleaseDeployed && rel.Number > c.serving {
			c.serving = rel.Number
		}
		if rel.Number == a.TargetRelease {
			c.target, found = rel, true
		}
	}
	if !found {
		return nil, fmt.Errorf("app %s: target release %d not found: %w", name, a.TargetRelease, store.ErrNotFound)
	}
	var sp spec.App
	if err := json.Unmarshal(c.target.Spec, &sp); err == nil {
		c.steps = sp.Strategy.Steps
		// A rollback rolls out at once, whatever strategy it copied (the
		// reconciler's rule too).
		c.canary = sp.Strategy.Type == spec.StrategyCanary && c.target.Cause != "rollback"
	}
	return c, nil
}

// canaryable says why the target release cannot run as a canary, or "".
func (c *canaryCall) canaryable() string {
	t := c.target
	switch {
	case t.Number == c.serving || t.State == api.ReleaseDeployed || t.State == api.ReleaseSuperseded:
		return fmt.Sprintf("release %d of app %q is already serving: there is nothing to canary; apply a new release first", t.Number, c.app.Name)
	case t.State == api.ReleaseFailed:
		return fmt.Sprintf("release %d of app %q failed (%s); apply a new release first", t.Number, c.app.Name, t.Reason)
	case c.serving == 0:
		return fmt.Sprintf("app %q has no serving release for a canary to run beside", c.app.Name)
	}
	return ""
}

// start begins a canary of the target release at weight, moved by hand.
func (c *canaryCall) start(weight int, now time.Time) error {
	if cur := c.app.Canary; cur != nil && cur.Release == c.target.Number {
		return &errCanaryConflict{fmt.Sprintf("a canary of release %d already runs at %d %%; move it with weight, or promote or abort it", cur.Release, cur.Weight)}
	}
	if why := c.canaryable(); why != "" {
		return &errCanaryConflict{why}
	}
	c.app.Canary = &store.Canary{Release: c.target.Number, Weight: weight, StepStartedAt: now, Manual: true}
	return nil
}

// requireCanary makes sure a canary runs: the app's, or the one the target
// release's canary strategy starts (the reconciler may not have written it
// yet), which then starts at its first step.
func (c *canaryCall) requireCanary(now time.Time) error {
	if cur := c.app.Canary; cur != nil && cur.Release == c.target.Number && c.canaryable() == "" {
		return nil
	}
	if c.canary && (c.target.State == api.ReleasePending || c.target.State == api.ReleaseProgressing) && c.canaryable() == "" {
		weight := 0
		if len(c.steps) > 0 {
			weight = c.steps[0].Weight
		}
		c.app.Canary = &store.Canary{Release: c.target.Number, Weight: weight, StepStartedAt: now, Manual: len(c.steps) == 0}
		return nil
	}
	if why := c.canaryable(); why != "" {
		return &errCanaryConflict{"no canary is running: " + why}
	}
	return &errCanaryConflict{fmt.Sprintf("no canary is running for app %q; start one with {\"canary\": N} (berth rollout %s --canary N)", c.app.Name, c.app.Name)}
}
