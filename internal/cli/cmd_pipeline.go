package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/pipeline"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

var (
	cliRunIDRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[1-9][0-9]*$`)
	cliParamNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

func checkRunID(id string) error {
	if !cliRunIDRE.MatchString(id) {
		return usageErrorf("%q is not a run ID: runs are APP.NUMBER, e.g. shop.12 (see \"berth run list\")", id)
	}
	return nil
}

func runNotFound(err error, id string) error {
	if client.IsNotFound(err) {
		return hint(err, "run %q not found; see \"berth run list\"", id)
	}
	return err
}

func (r *runner) newPipelineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "List, show and start apps' pipelines (CI/CD from .berth/pipeline.yaml)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(r.newPipelineListCmd(), r.newPipelineShowCmd(), r.newPipelineRunCmd())
	return cmd
}

func (r *runner) newPipelineListCmd() *cobra.Command {
	var out outputFormat
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the apps that have a pipeline (a source.git in berth.yaml)",
		Args:  argsExactly(),
		RunE: r.run(func(ctx context.Context, _ []string) error {
			c, err := r.client()
			if err != nil {
				return err
			}
			ps, err := c.ListPipelines(ctx)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, ps)
			}
			if len(ps) == 0 {
				fmt.Fprintln(r.Stderr, `No pipelines yet: add "source: {git: URL, branch: main}" to an app's berth.yaml and apply it.`)
				return nil
			}
			tw := newTable(r.Stdout)
			row(tw, "APP", "GIT", "BRANCH", "SCHEDULE", "LAST RUN", "STATE", "AGE")
			for _, p := range ps {
				last, state, when := "-", "-", "-"
				if p.LastRun != nil {
					last, state, when = p.LastRun.ID, p.LastRun.State, age(r.Now(), p.LastRun.CreatedAt)
				}
				row(tw, p.App, p.Git, p.Branch, dash(p.Schedule), last, state, when)
			}
			return tw.Flush()
		}),
	}
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newPipelineShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show APP",
		Short: "Show an app's pipeline: source, webhooks, steps and last run",
		Args:  argsExactly("APP"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) (api.Pipeline, error) {
			p, err := c.GetPipeline(ctx, args[0])
			return p, notFound(err, args[0])
		},
		func(w io.Writer, p api.Pipeline) error { return renderPipeline(w, p, r.Now()) })
}

func renderPipeline(w io.Writer, p api.Pipeline, now time.Time) error {
	fmt.Fprintf(w, "App:       %s\n", p.App)
	fmt.Fprintf(w, "Source:    %s (branch %s)\n", p.Git, p.Branch)
	if p.File == pipeline.SectionSource {
		fmt.Fprintf(w, "File:      %s (its pipeline section; the repository's file is not read)\n", p.File)
	} else {
		fmt.Fprintf(w, "File:      %s\n", dash(p.File))
	}
	fmt.Fprintf(w, "Status:    %s\n", commitStatus(p.Status))
	fmt.Fprintf(w, "Executor:  %s\n", executorLine(p.Executor))
	if p.Schedule != "" {
		fmt.Fprintf(w, "Schedule:  %s (UTC)\n", p.Schedule)
	}
	fmt.Fprintln(w, "Webhooks:  (content type application/json; POST to the server's URL + path)")
	for _, f := range []string{"github", "gitea", "gitlab"} {
		if path, ok := p.Hooks[f]; ok {
			fmt.Fprintf(w, "  %-7s %s\n", f, path)
		}
	}
	if p.HookSecret != "" {
		fmt.Fprintf(w, "  secret  %s\n", p.HookSecret)
	}
	if len(p.Definition) > 0 {
		var def struct {
			On    []string `json:"on"`
			Steps []struct {
				Name     string          `json:"name"`
				Needs    []string        `json:"needs"`
				Run      string          `json:"run"`
				Deploy   json.RawMessage `json:"deploy"`
				Approval json.RawMessage `json:"approval"`
				Notify   json.RawMessage `json:"notify"`
			} `json:"steps"`
		}
		if err := json.Unmarshal(p.Definition, &def); err == nil {
			fmt.Fprintf(w, "On:        %s\n", strings.Join(def.On, ", "))
			if p.File == pipeline.SectionSource && p.Commit == "" {
				fmt.Fprintln(w, "Steps:")
			} else {
				fmt.Fprintf(w, "Steps (as of %s):\n", shortSHA(p.Commit))
			}
			tw := newTable(w)
			row(tw, "  NAME", "KIND", "NEEDS", "DOES")
			for _, s := range def.Steps {
				kind, does := "run", oneLine(s.Run)
				switch {
				case len(s.Deploy) > 0:
					kind, does = "deploy", string(s.Deploy)
				case len(s.Approval) > 0:
					kind, does = "approval", string(s.Approval)
				case len(s.Notify) > 0:
					kind, does = "notify", string(s.Notify)
				}
				row(tw, "  "+s.Name, kind, dash(strings.Join(s.Needs, ",")), does)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	} else {
		fmt.Fprintf(w, "Steps:     not read yet; the first run reads %s\n", dash(p.File))
	}
	if p.LastRun != nil {
		fmt.Fprintf(w, "Last run:  %s %s, %s ago (%s)\n", p.LastRun.ID, p.LastRun.State, age(now, p.LastRun.CreatedAt), dash(p.LastRun.Reason))
	}
	return nil
}

// commitStatus says where runs report commit status (source.status).
func commitStatus(forge string) string {
	if forge == "" {
		return "not reported (source.status unset)"
	}
	return "reported to " + forge
}

// executorLine says where steps run (the pipeline's executor.env).
func executorLine(ex string) string {
	switch ex {
	case "":
		return "not known yet; the first run reads the pipeline file"
	case "local":
		return "local (processes on the server's machine)"
	}
	return "environment " + ex + " (pods in its namespace)"
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return dash(s)
}

func (r *runner) newPipelineRunCmd() *cobra.Command {
	var (
		ref     string
		params  []string
		follow  bool
		timeout time.Duration
		out     outputFormat
	)
	cmd := &cobra.Command{
		Use:   "run APP [--param K=V]... [--ref REF]",
		Short: "Start a manual run of an app's pipeline",
		Long: `Start a manual run of APP's pipeline on REF (a branch or tag; default the
branch in berth.yaml's source). With --follow (-f) it prints the run's log
until the run ends, and exits 1 when the run did not succeed.`,
		Example: "  berth pipeline run shop\n  berth pipeline run shop --ref v1.4.2 --param LEVEL=2 -f",
		Args:    argsExactly("APP"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			req := api.RunRequest{Ref: ref, Params: map[string]string{}}
			for _, p := range params {
				k, v, ok := strings.Cut(p, "=")
				if !ok || !cliParamNameRE.MatchString(k) {
					return usageErrorf("--param %q: want NAME=VALUE, NAME being letters, digits and _", p)
				}
				req.Params[k] = v
			}
			if strings.HasPrefix(ref, "-") {
				return usageErrorf("--ref %q: a ref cannot start with '-'", ref)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			run, err := c.StartRun(ctx, args[0], req)
			if err != nil {
				return notFound(err, args[0])
			}
			if out != outputTable {
				return printData(r.Stdout, out, run)
			}
			fmt.Fprintf(r.Stdout, "run %s queued (%s on %s)\n", run.ID, run.Trigger, run.Ref)
			if !follow {
				fmt.Fprintf(r.Stderr, "Follow it with \"berth run logs %s -f\".\n", run.ID)
				return nil
			}
			return r.followRun(ctx, c, run.ID, timeout)
		}),
	}
	cmd.Flags().StringVar(&ref, "ref", "", "branch or tag to run on (default: the source branch of berth.yaml)")
	cmd.Flags().StringArrayVar(&params, "param", nil, "a parameter NAME=VALUE (repeatable)")
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print the run's log until it ends; exit 1 unless it succeeds")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --follow, give up waiting after this long (0: no limit)")
	addOutputFlag(cmd, &out)
	return cmd
}

// followRun streams a run's log until it ends and reports how it ended.
func (r *runner) followRun(ctx context.Context, c *client.Client, id string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	rc, err := c.RunLogs(ctx, id, true)
	if err != nil {
		return runNotFound(err, id)
	}
	_, err = io.Copy(r.Stdout, rc)
	rc.Close()
	if ctx.Err() != nil {
		return failed(fmt.Errorf("run %s: stopped following after %s; it goes on (see \"berth run show %s\")", id, timeout, id), "")
	}
	if err != nil {
		return fmt.Errorf("read the log of %s: %w", id, err)
	}
	run, err := c.GetRun(ctx, id)
	if err != nil {
		return err
	}
	if run.State != api.RunSucceeded {
		return failed(fmt.Errorf("run %s %s: %s", id, run.State, run.Reason), "")
	}
	fmt.Fprintf(r.Stdout, "run %s succeeded\n", id)
	return nil
}

func (r *runner) newRunCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run",
		Short: "List, show, follow, cancel and re-run pipeline runs; download their artifacts",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE,
	}
	cmd.AddCommand(r.newRunListCmd(), r.newRunShowCmd(), r.newRunLogsCmd(), r.newRunCancelCmd(), r.newRunRerunCmd(),
		r.newRunArtifactsCmd(), r.newRunDownloadCmd())
	return cmd
}

func (r *runner) newRunListCmd() *cobra.Command {
	var (
		out   outputFormat
		state string
		limit int
	)
	cmd := &cobra.Command{
		Use:     "list [APP]",
		Short:   "List runs, newest first",
		Example: "  berth run list\n  berth run list shop --state failed",
		Args:    cobra.MaximumNArgs(1),
		RunE: r.run(func(ctx context.Context, args []string) error {
			opts := client.RunListOptions{State: state, Limit: limit}
			if len(args) == 1 {
				opts.App = args[0]
			}
			switch state {
			case "", api.RunQueued, api.RunRunning, api.RunSucceeded, api.RunFailed, api.RunCancelled:
			default:
				return usageErrorf("--state %q: want queued, running, succeeded, failed or cancelled", state)
			}
			if limit < 0 || limit > 1000 {
				return usageErrorf("--limit must be 1 to 1000, got %d", limit)
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			runs, err := c.ListRuns(ctx, opts)
			if err != nil {
				return err
			}
			if out != outputTable {
				return printData(r.Stdout, out, runs)
			}
			if len(runs) == 0 {
				fmt.Fprintln(r.Stderr, `No runs; start one with "berth pipeline run APP".`)
				return nil
			}
			tw := newTable(r.Stdout)
			row(tw, "RUN", "TRIGGER", "REF", "COMMIT", "STATE", "AGE", "REASON")
			for _, run := range runs {
				row(tw, run.ID, run.Trigger, run.Ref, shortSHA(run.Commit), run.State, age(r.Now(), run.CreatedAt), oneLine(run.Reason))
			}
			return tw.Flush()
		}),
	}
	cmd.Flags().StringVar(&state, "state", "", "only runs in this state (queued, running, succeeded, failed, cancelled)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many runs (default 50)")
	addOutputFlag(cmd, &out)
	return cmd
}

func (r *runner) newRunShowCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show RUN",
		Short: "Show a run's steps, exit codes, durations and approvals",
		Args:  argsExactly("RUN"),
	}
	return readCmd(r, cmd,
		func(ctx context.Context, c *client.Client, args []string) (api.Run, error) {
			if err := checkRunID(args[0]); err != nil {
				return api.Run{}, err
			}
			run, err := c.GetRun(ctx, args[0])
			return run, runNotFound(err, args[0])
		},
		func(w io.Writer, run api.Run) error { return renderRun(w, run, r.Now()) })
}

func renderRun(w io.Writer, run api.Run, now time.Time) error {
	fmt.Fprintf(w, "Run:      %s (%s on %s, commit %s, by %s)\n", run.ID, run.Trigger, run.Ref, shortSHA(run.Commit), dash(run.By))
	fmt.Fprintf(w, "State:    %s", run.State)
	if run.Reason != "" {
		fmt.Fprintf(w, ": %s", run.Reason)
	}
	fmt.Fprintln(w)
	if run.State == api.RunFailed {
		fmt.Fprintf(w, "Exit:     %d\n", run.ExitCode)
	}
	fmt.Fprintf(w, "Created:  %s ago\n", age(now, run.CreatedAt))
	if run.SpecRelease > 0 {
		fmt.Fprintf(w, "Spec:     release %d\n", run.SpecRelease)
	}
	if len(run.Params) > 0 {
		var ps []string
		for k, v := range run.Params {
			ps = append(ps, k+"="+v)
		}
		fmt.Fprintf(w, "Params:   %s\n", strings.Join(ps, " "))
	}
	if len(run.Steps) > 0 {
		tw := newTable(w)
		row(tw, "STEP", "KIND", "STATUS", "EXIT", "ATTEMPT", "DURATION", "REASON")
		for _, s := range run.Steps {
			dur := "-"
			if s.DurationMS > 0 || (!s.StartedAt.IsZero() && !s.FinishedAt.IsZero()) {
				dur = (time.Duration(s.DurationMS) * time.Millisecond).String()
			}
			exit := "-"
			if s.Status == "failure" || s.Status == "success" {
				exit = fmt.Sprint(s.ExitCode)
			}
			row(tw, s.Name, s.Kind, s.Status, exit, num(s.Attempt), dur, oneLine(s.Reason))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, s := range run.Steps {
		if c := s.Cache; c != nil {
			what := "not restored, not saved"
			switch {
			case c.Hit:
				what = "restored"
			case c.Saved:
				what = "not found, saved"
			}
			fmt.Fprintf(w, "Cache of %s: key %s, %s\n", s.Name, c.Key, what)
		}
	}
	for _, a := range run.Approvals {
		fmt.Fprintf(w, "%s: %s by %s, %s ago%s\n", a.Step, a.Decision, a.Who, age(now, a.Time), quoteComment(a.Comment))
	}
	return nil
}

func quoteComment(c string) string {
	if c == "" {
		return ""
	}
	return fmt.Sprintf(": %q", c)
}

func (r *runner) newRunLogsCmd() *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:     "logs RUN",
		Short:   "Print a run's log (secrets masked as ***)",
		Example: "  berth run logs shop.12\n  berth run logs shop.12 -f",
		Args:    argsExactly("RUN"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRunID(args[0]); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			rc, err := c.RunLogs(ctx, args[0], follow)
			if err != nil {
				return runNotFound(err, args[0])
			}
			defer rc.Close()
			if _, err := io.Copy(r.Stdout, rc); err != nil && ctx.Err() == nil {
				return fmt.Errorf("read the log: %w", err)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing until the run ends")
	return cmd
}

func (r *runner) newRunCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel RUN",
		Short: "Cancel a run: pending steps never start, running ones are killed (with their child processes)",
		Args:  argsExactly("RUN"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRunID(args[0]); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			run, err := c.CancelRun(ctx, args[0])
			if err != nil {
				return runNotFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "run %s: cancel requested (%s)\n", run.ID, run.State)
			return nil
		}),
	}
}

func (r *runner) newRunRerunCmd() *cobra.Command {
	var (
		follow  bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rerun RUN",
		Short: "Queue a new run with the same trigger, ref, commit and parameters",
		Args:  argsExactly("RUN"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRunID(args[0]); err != nil {
				return err
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			run, err := c.RerunRun(ctx, args[0])
			if err != nil {
				return runNotFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "run %s queued (re-run of %s)\n", run.ID, args[0])
			if follow {
				return r.followRun(ctx, c, run.ID, timeout)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "print the new run's log until it ends; exit 1 unless it succeeds")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --follow, give up waiting after this long (0: no limit)")
	return cmd
}

func (r *runner) newApproveCmd() *cobra.Command {
	return r.newDecisionCmd("approve", "Approve a run's waiting approval step", true)
}

func (r *runner) newRejectCmd() *cobra.Command {
	return r.newDecisionCmd("reject", "Reject a run's waiting approval step; the run fails", false)
}

func (r *runner) newDecisionCmd(verb, short string, approve bool) *cobra.Command {
	var comment string
	cmd := &cobra.Command{
		Use:     verb + " RUN [--comment TEXT]",
		Short:   short,
		Example: "  berth " + verb + " shop.12 --comment \"checked the staging numbers\"",
		Args:    argsExactly("RUN"),
		RunE: r.run(func(ctx context.Context, args []string) error {
			if err := checkRunID(args[0]); err != nil {
				return err
			}
			if len(comment) > 2000 {
				return usageErrorf("--comment is %d characters; at most 2000", len(comment))
			}
			c, err := r.client()
			if err != nil {
				return err
			}
			decide := c.Reject
			if approve {
				decide = c.Approve
			}
			run, err := decide(ctx, args[0], comment)
			if err != nil {
				var ae *client.APIError
				if errors.As(err, &ae) && ae.Status == http.StatusConflict {
					return withNext(err, fmt.Sprintf("see \"berth run show %s\"", args[0]))
				}
				return runNotFound(err, args[0])
			}
			fmt.Fprintf(r.Stdout, "run %s: %s recorded (%d decision(s) so far)\n", run.ID, verb, len(run.Approvals))
			return nil
		}),
	}
	cmd.Flags().StringVar(&comment, "comment", "", "why: kept with the decision")
	return cmd
}
