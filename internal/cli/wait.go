package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// maxLogLines bounds the log lines shown for a failed instance.
const maxLogLines = 20

// watchApp wakes the caller whenever an event about app arrives. Events
// only say "look again": the state is always read with GetApp, so a missed
// or coalesced event costs nothing but a poll interval. The returned stop
// ends the watch and waits for its goroutine.
func watchApp(ctx context.Context, c *client.Client, app string, since int64) (kick <-chan struct{}, stop func()) {
	ch := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The error is dropped on purpose: a server without a working
		// watch stream still gets polled.
		_ = c.Watch(ctx, since, func(e api.Event) error {
			if e.App == app {
				select {
				case ch <- struct{}{}:
				default:
				}
			}
			return nil
		})
	}()
	return ch, func() { cancel(); <-done }
}

// waitRelease follows release n of app until it is deployed (nil), failed,
// replaced, or timeout passes (all exit code 1). since is the change-log
// revision to watch from (the apply's), so no history is replayed.
func (r *runner) waitRelease(ctx context.Context, c *client.Client, app string, n int, since int64, timeout time.Duration) error {
	return r.waitReleaseOr(ctx, c, app, n, since, timeout, true)
}

// waitReleaseOr is waitRelease; with canaryDone, a release that runs as a
// canary, ready at its current step, ends the wait too (successfully):
// what follows is the canary's steps' or a user's business. Promote waits
// without it, for the deployed release.
func (r *runner) waitReleaseOr(ctx context.Context, c *client.Client, app string, n int, since int64, timeout time.Duration, canaryDone bool) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kick, stop := watchApp(ctx, c, app, since)
	defer stop()
	tick := time.NewTicker(r.PollInterval)
	defer tick.Stop()

	p := newProgress(r.Stdout)
	var last api.App
	for {
		a, err := c.GetApp(ctx, app)
		var rel api.Release
		if err == nil {
			last = a
			p.show(a, n)
			rel, err = c.GetRelease(ctx, app, n)
		}
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return notFound(err, app)
		}
		switch rel.State {
		case api.ReleaseDeployed:
			r.settle(ctx, c, p, a, n, kick)
			fmt.Fprintf(r.Stdout, "app %s: release %d deployed\n", app, n)
			return nil
		case api.ReleaseFailed:
			return rolloutFailed(a, rel)
		}
		if cs := a.Status.Canary; canaryDone && cs != nil && cs.Release == n && cs.Ready && !cs.Promoting {
			fmt.Fprintf(r.Stdout, "app %s: release %d runs as a canary: %s\n", app, n, canaryLine(cs, r.Now()))
			fmt.Fprintf(r.Stdout, "  move it with \"berth rollout %s --weight N\", finish with \"berth promote %s\" or \"berth abort %s\"\n", app, app, app)
			return nil
		}
		if a.TargetRelease > n || rel.State == api.ReleaseSuperseded {
			return failed(fmt.Errorf("release %d of %s was replaced by release %d before it was deployed; see \"berth status %s\"",
				n, app, a.TargetRelease, app), "")
		}
		select {
		case <-ctx.Done():
		case <-kick:
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	if parent.Err() != nil {
		return failed(fmt.Errorf("interrupted; release %d of %s keeps rolling out: see \"berth status %s\"", n, app, app), "")
	}
	return failed(fmt.Errorf("timed out after %s waiting for release %d of %s; %s; see \"berth status %s\"",
		timeout, n, app, notReady(last), app), "")
}

// settleTime bounds how long a deployed release's status may lag.
const settleTime = 2 * time.Second

// settle shows the status that goes with a deployed release. The
// reconciler marks the release deployed and writes the app's status in
// separate steps, so the status read just before may still say "1/2 ready";
// wait briefly for it to catch up rather than end on a stale line.
func (r *runner) settle(ctx context.Context, c *client.Client, p *progress, a api.App, n int, kick <-chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, settleTime)
	defer cancel()
	name := a.Name
	for !settled(a, n) {
		select {
		case <-ctx.Done():
			return
		case <-kick: // the status write is an event too
		case <-time.After(r.PollInterval):
		}
		next, err := c.GetApp(ctx, name)
		if err != nil {
			return
		}
		a = next
		p.show(a, n)
	}
}

// settled reports whether a's status shows release n serving with every
// service ready.
func settled(a api.App, n int) bool {
	if a.Status.Release != n || a.Status.Serving != n {
		return false
	}
	for _, s := range a.Status.Services {
		if s.Ready < s.Desired {
			return false
		}
	}
	return true
}

// progress prints one line per service whenever its state changes, so a
// log or a CI job shows the rollout without a TTY.
type progress struct {
	out   io.Writer
	lines map[string]string
	phase string
}

func newProgress(out io.Writer) *progress {
	return &progress{out: out, lines: map[string]string{}}
}

// show prints what changed in a's status. A status about another release
// (the one running before the reconciler picked up release n) is skipped:
// its lines would only be replaced a moment later.
func (p *progress) show(a api.App, n int) {
	if a.Status.Release != n {
		return
	}
	width := 0
	for _, s := range a.Status.Services {
		width = max(width, len(s.Name))
	}
	for _, s := range a.Status.Services {
		line := serviceLine(s)
		if p.lines[s.Name] == line {
			continue
		}
		p.lines[s.Name] = line
		fmt.Fprintf(p.out, "  %-*s  %s\n", width, s.Name, line)
	}
	if cs := a.Status.Canary; cs != nil {
		if line := canaryProgress(cs); p.lines["\x00canary"] != line {
			p.lines["\x00canary"] = line
			fmt.Fprintf(p.out, "  %s\n", line)
		}
	}
	// The phase with its message when it changes ("Progressing: building
	// release 3"), after the service lines it sums up; messages within a
	// phase only repeat those lines.
	if a.Status.Phase != p.phase {
		p.phase = a.Status.Phase
		if line := reasonMessage(a.Status.Phase, flatten(a.Status.Message)); line != "" {
			fmt.Fprintf(p.out, "  %s\n", line)
		}
	}
}

// serviceLine is "1/2 ready  (release 3)", or "failed: Reason: message".
func serviceLine(s api.ServiceStatus) string {
	if c := trueCondition(s.Conditions, api.ConditionFailed); c != nil {
		return "failed: " + flatten(reasonMessage(c.Reason, c.Message))
	}
	line := fmt.Sprintf("%d/%d ready", s.Ready, s.Desired)
	if s.Release != 0 {
		line += fmt.Sprintf("  (release %d)", s.Release)
	}
	if c := trueCondition(s.Conditions, api.ConditionDegraded); c != nil {
		line += "  degraded: " + flatten(reasonMessage(c.Reason, c.Message))
	}
	return line
}

func trueCondition(cs []api.Condition, typ string) *api.Condition {
	for i := range cs {
		if cs[i].Type == typ && cs[i].Status == "True" {
			return &cs[i]
		}
	}
	return nil
}

// notReady says which services are not ready yet, for the timeout message.
func notReady(a api.App) string {
	var parts []string
	for _, s := range a.Status.Services {
		if s.Ready < s.Desired || trueCondition(s.Conditions, api.ConditionFailed) != nil {
			parts = append(parts, s.Name+" "+serviceLine(s))
		}
	}
	if len(parts) == 0 {
		if a.Status.Phase == "" {
			return "the server has not reported on the app yet"
		}
		return "the app is still " + reasonMessage(a.Status.Phase, flatten(a.Status.Message))
	}
	return "not ready: " + strings.Join(parts, ", ")
}

// rolloutFailed explains a failed release with the last output of the
// instance that failed.
func rolloutFailed(a api.App, rel api.Release) error {
	why := reasonMessage(rel.Reason, rel.Message)
	if why == "" {
		why = reasonMessage(a.Status.Phase, a.Status.Message)
	}
	var detail []string
	svc, in := failingInstance(a, rel.Number)
	if in != nil {
		detail = append(detail, fmt.Sprintf("last output of %s instance %s (%s):", svc, in.ID, exitText(*in.LastExit)))
		tail := in.LastExit.LogTail
		if len(tail) > maxLogLines {
			tail = tail[len(tail)-maxLogLines:]
		}
		for _, l := range tail {
			detail = append(detail, "  | "+l)
		}
		if len(tail) == 0 {
			detail = append(detail, "  (no output)")
		}
	}
	next := fmt.Sprintf("see \"berth status %s\"", a.Name)
	if svc != "" {
		next += fmt.Sprintf(" and \"berth logs %s/%s\"", a.Name, svc)
	}
	detail = append(detail, next)
	return failed(fmt.Errorf("release %d of %s failed: %s", rel.Number, a.Name, dash(why)), strings.Join(detail, "\n"))
}

// failingInstance picks the instance whose exit best explains a failure:
// one of a failed service, of the failed release, that exited last.
func failingInstance(a api.App, release int) (string, *api.Instance) {
	var (
		bestSvc   string
		best      *api.Instance
		bestScore int
	)
	for _, s := range a.Status.Services {
		failedSvc := trueCondition(s.Conditions, api.ConditionFailed) != nil
		for i := range s.Instances {
			in := &s.Instances[i]
			if in.LastExit == nil {
				continue
			}
			score := 1
			if failedSvc {
				score += 8
			}
			if in.Release == release {
				score += 4
			}
			if !in.Ready {
				score += 2
			}
			if best == nil || score > bestScore || (score == bestScore && in.LastExit.At.After(best.LastExit.At)) {
				bestSvc, best, bestScore = s.Name, in, score
			}
		}
	}
	return bestSvc, best
}

// waitDeleted follows a deleted app until the server no longer knows it.
func (r *runner) waitDeleted(ctx context.Context, c *client.Client, app string, timeout time.Duration) error {
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	kick, stop := watchApp(ctx, c, app, 0)
	defer stop()
	tick := time.NewTicker(r.PollInterval)
	defer tick.Stop()
	lastLine := ""
	for {
		a, err := c.GetApp(ctx, app)
		switch {
		case client.IsNotFound(err):
			fmt.Fprintf(r.Stdout, "app %s: deleted\n", app)
			return nil
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil:
			if line := instancesLeft(a); line != lastLine {
				lastLine = line
				fmt.Fprintf(r.Stdout, "  %s\n", line)
			}
		}
		select {
		case <-ctx.Done():
		case <-kick:
		case <-tick.C:
		}
		if ctx.Err() != nil {
			break
		}
	}
	if parent.Err() != nil {
		return failed(fmt.Errorf("interrupted; app %s is still being deleted: see \"berth status %s\"", app, app), "")
	}
	return failed(fmt.Errorf("timed out after %s waiting for app %s to be deleted; see \"berth status %s\"", timeout, app, app), "")
}

func instancesLeft(a api.App) string {
	n := 0
	for _, s := range a.Status.Services {
		n += len(s.Instances)
	}
	return fmt.Sprintf("%s: %s left", dash(a.Status.Phase), plural(n, "instance"))
}
