package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// maxWeight is the largest weight a canary takes by hand; promote gives
// it the rest.
const maxWeight = 99

func (r *runner) newRolloutCmd() *cobra.Command {
	var (
		canary, weight int
		w              waitFlags
	)
	cmd := &cobra.Command{
		Use:   "rollout APP --canary N | --weight N",
		Short: "Start a canary of the app's new release at N % of the traffic, or move the running one",
		Long: `Start a canary of the app's target release (the one applied last) beside the
serving release, with N % of the traffic (--canary N), or move the running
canary to N % (--weight N). A canary started by hand moves only by hand; a
weight that is one of the release's strategy steps goes on with the steps
from there. The canary runs ceil(replicas x N / 100) instances of each
service, at least one: at --canary 0 it takes only requests pinned to it
with "X-Berth-Track: canary".

With --wait (the default) it waits until the canary's instances are ready.
Finish with "berth promote APP" or "berth abort APP".`,
		Example: "  berth apply -f . --wait=false && berth rollout shop --canary 10\n  berth rollout shop --weight 50",
		Args:    argsExactly("APP"),
	}
	// RunE is set here: it asks cmd which flags were given.
	cmd.RunE = r.run(func(ctx context.Context, args []string) error {
		hasCanary, hasWeight := cmd.Flags().Changed("canary"), cmd.Flags().Changed("weight")
		var req api.RolloutRequest
		switch {
		case hasCanary && hasWeight:
			return usageErrorf("give --canary (start a canary) or --weight (move the running one), not both")
		case hasCanary:
			req.Canary = &canary
		case hasWeight:
			req.Weight = &weight
		default:
			return usageErrorf("--canary N (start a canary) or --weight N (move the running one) is required")
		}
		for name, v := range map[string]*int{"--canary": req.Canary, "--weight": req.Weight} {
			if v != nil && (*v < 0 || *v > maxWeight) {
				return usageErrorf("%s must be a percentage from 0 to %d, got %d (promote the canary to give it all the traffic)", name, maxWeight, *v)
			}
		}
		if err := w.check(); err != nil {
			return err
		}
		app := args[0]
		c, err := r.client()
		if err != nil {
			return err
		}
		res, err := c.Rollout(ctx, app, req)
		if err != nil {
			return canaryError(err, app)
		}
		if res.Action == api.RolloutCanary {
			fmt.Fprintf(r.Stdout, "app %s: canary release %d at %d %% beside release %d\n", app, res.Release, res.Weight, res.Stable)
		} else {
			fmt.Fprintf(r.Stdout, "app %s: canary release %d moved to %d %%\n", app, res.Release, res.Weight)
		}
		if !w.wait {
			return nil
		}
		return r.waitCanary(ctx, c, app, res.Release, res.Weight, res.Revision, w.timeout)
	})
	cmd.Flags().IntVar(&canary, "canary", 0, "start a canary of the target release with this share of the traffic (percent, 0-99)")
	cmd.Flags().IntVar(&weight, "weight", 0, "move the running canary to this share of the traffic (percent, 0-99)")
	w.register(cmd, true, "wait until the canary's instances are ready")
	return cmd
}

func (r *runner) newPromoteCmd() *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "promote APP",
		Short: "Finish a canary: roll the canary release to full replicas and stop the stable one",
		Long: `Finish the app's canary: its release is rolled to full replicas, then takes
all the traffic, and the stable release's instances stop.

With --wait (the default) it follows the promotion until the release is
deployed.`,
		Args: argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			app := args[0]
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.Promote(ctx, app)
			if err != nil {
				return canaryError(err, app)
			}
			fmt.Fprintf(r.Stdout, "app %s: promoting canary release %d (stable release %d stops once it is ready)\n", app, res.Release, res.Stable)
			if !w.wait {
				return nil
			}
			return r.waitReleaseOr(ctx, c, app, res.Release, res.Revision, w.timeout, false)
		}),
	}
	w.register(cmd, true, "follow the promotion until the release is deployed")
	return cmd
}

func (r *runner) newAbortCmd() *cobra.Command {
	var w waitFlags
	cmd := &cobra.Command{
		Use:   "abort APP",
		Short: "End a canary: all traffic back to the stable release, the canary stopped",
		Long: `End the app's canary: the stable release takes all the traffic at once, the
canary's instances stop, and its release is marked failed (reason Aborted).

With --wait (the default) it waits until the canary's instances are gone.`,
		Args: argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := w.check(); err != nil {
				return err
			}
			app := args[0]
			c, err := r.client()
			if err != nil {
				return err
			}
			res, err := c.Abort(ctx, app)
			if err != nil {
				return canaryError(err, app)
			}
			fmt.Fprintf(r.Stdout, "app %s: canary release %d aborted; release %d takes all the traffic\n", app, res.Release, res.Stable)
			if !w.wait {
				return nil
			}
			return r.waitInstancesGone(ctx, c, app, res.Release, res.Revision, w.timeout)
		}),
	}
	w.register(cmd, true, "wait until the canary's instances are stopped")
	return cmd
}

// canaryError adds the next step to the server's refusals.
func canaryError(err error, app string) error {
	var ae *client.APIError
	if errors.As(err, &ae) && ae.Status == 409 {
		return withNext(err, fmt.Sprintf("see \"berth status %s\"", app))
	}
	return notFound(err, app)
}

// waitCanary follows app until canary release n runs ready at weight, or
// fails. since is the revision to watch from.
func (r *runner) waitCanary(ctx context.Context, c *client.Client, app string, n, weight int, since int64, timeout time.Duration) error {
	last, done, err := r.follow(ctx, c, app, since, timeout, func(a api.App) (bool, error) {
		rel, err := c.GetRelease(ctx, app, n)
		if err != nil {
			return false, err
		}
		switch cs := a.Status.Canary; {
		case rel.State == api.ReleaseFailed:
			return false, rolloutFailed(a, rel)
		case rel.State == api.ReleaseDeployed:
			fmt.Fprintf(r.Stdout, "app %s: release %d deployed (the canary was promoted)\n", app, n)
			return true, nil
		case a.TargetRelease > n || rel.State == api.ReleaseSuperseded:
			return false, failed(fmt.Errorf("canary release %d of %s was replaced by release %d; see \"berth status %s\"", n, app, a.TargetRelease, app), "")
		case cs != nil && cs.Release == n && cs.Weight == weight && cs.Ready:
			// A status at another weight may predate the call, so only
			// this weight ends the wait.
			fmt.Fprintf(r.Stdout, "app %s: canary release %d ready at %d %%\n", app, n, weight)
			return true, nil
		}
		return false, nil
	})
	if done || err != nil {
		return err
	}
	return r.waitTimedOut(ctx, app, fmt.Sprintf("canary release %d", n), last, timeout)
}

// waitInstancesGone follows app until no instance of release n is left.
func (r *runner) waitInstancesGone(ctx context.Context, c *client.Client, app string, n int, since int64, timeout time.Duration) error {
	last, done, err := r.follow(ctx, c, app, since, timeout, func(a api.App) (bool, error) {
		if (a.Status.Canary == nil || a.Status.Canary.Release != n) && instancesOf(a, n) == 0 {
			fmt.Fprintf(r.Stdout, "app %s: canary release %d stopped\n", app, n)
			return true, nil
		}
		return false, nil
	})
	if done || err != nil {
		return err
	}
	return r.waitTimedOut(ctx, app, fmt.Sprintf("the instances of release %d to stop", n), last, timeout)
}

// follow re-reads app on every event about it (and every PollInterval)
// and shows its progress, until check says done or fails, or timeout
// passes (done false, nil error: the caller words the timeout).
func (r *runner) follow(ctx context.Context, c *client.Client, app string, since int64, timeout time.Duration,
	check func(a api.App) (bool, error)) (last api.App, done bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kick, stop := watchApp(ctx, c, app, since)
	defer stop()
	tick := time.NewTicker(r.PollInterval)
	defer tick.Stop()
	p := newProgress(r.Stdout)
	for {
		a, err := c.GetApp(ctx, app)
		switch {
		case err == nil:
			last = a
			p.show(a, a.TargetRelease)
			ok, err := check(a)
			if ok || (err != nil && ctx.Err() == nil) {
				return last, ok, err
			}
		case ctx.Err() == nil:
			return last, false, notFound(err, app)
		}
		select {
		case <-ctx.Done():
		case <-kick:
		case <-tick.C:
		}
		if ctx.Err() != nil {
			return last, false, nil
		}
	}
}

// waitTimedOut words the end of a wait that did not see what it waited
// for: interrupted, or out of time.
func (r *runner) waitTimedOut(ctx context.Context, app, what string, last api.App, timeout time.Duration) error {
	if ctx.Err() != nil {
		return failed(fmt.Errorf("interrupted while waiting for %s of %s: see \"berth status %s\"", what, app, app), "")
	}
	return failed(fmt.Errorf("timed out after %s waiting for %s of %s; the app is %s; see \"berth status %s\"",
		timeout, what, app, reasonMessage(last.Status.Phase, flatten(last.Status.Message)), app), "")
}

// instancesOf counts the app's instances of release n.
func instancesOf(a api.App, n int) int {
	count := 0
	for _, s := range a.Status.Services {
		for _, in := range s.Instances {
			if in.Release == n {
				count++
			}
		}
	}
	return count
}

// canaryLine is the canary's state in one line, for status and progress.
func canaryLine(cs *api.CanaryStatus, now time.Time) string {
	line := fmt.Sprintf("release %d at %d %% beside release %d", cs.Release, cs.Weight, cs.Stable)
	switch {
	case cs.Promoting:
		line = fmt.Sprintf("release %d being promoted (stable release %d stops once it is ready)", cs.Release, cs.Stable)
		return line
	case cs.Step > 0:
		line += fmt.Sprintf(", step %d of %d", cs.Step, cs.Steps)
	default:
		line += ", moved by hand"
	}
	switch {
	case !cs.Ready:
		line += ", starting"
	case !cs.NextStepAt.IsZero() && cs.Step == cs.Steps:
		line += ", promoted in " + until(now, cs.NextStepAt)
	case !cs.NextStepAt.IsZero():
		line += ", next step in " + until(now, cs.NextStepAt)
	default:
		line += ", waiting for rollout --weight, promote or abort"
	}
	return line
}

// until is the time left before t, "now" once it passed.
func until(now, t time.Time) string {
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "a moment"
	}
	return d.String()
}

// canaryProgress is the canary's state for progress lines: it changes
// only when the canary does (no countdown).
func canaryProgress(cs *api.CanaryStatus) string {
	state := "starting"
	switch {
	case cs.Promoting && cs.Ready:
		state = "promoted"
	case cs.Promoting:
		state = "being promoted"
	case cs.Ready:
		state = "ready"
	}
	return fmt.Sprintf("canary: release %d at %d %% beside release %d, %s", cs.Release, cs.Weight, cs.Stable, state)
}
