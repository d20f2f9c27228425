package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

func TestPipelineCommandsRefuseBadInput(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["BERTH_URL"], env["BERTH_TOKEN"] = "http://127.0.0.1:1", "berth_x"
	tests := []struct {
		desc string
		args []string
		want string
	}{
		{desc: "run ID without a number", args: []string{"run", "show", "shop"}, want: "not a run ID"},
		{desc: "run ID for logs", args: []string{"run", "logs", "Shop.1"}, want: "not a run ID"},
		{desc: "approve a bad ID", args: []string{"approve", "shop.0"}, want: "not a run ID"},
		{desc: "param without =", args: []string{"pipeline", "run", "shop", "--param", "LEVEL"}, want: "want NAME=VALUE"},
		{desc: "param with a bad name", args: []string{"pipeline", "run", "shop", "--param", "1X=2"}, want: "want NAME=VALUE"},
		{desc: "ref starting with -", args: []string{"pipeline", "run", "shop", "--ref=-x"}, want: "cannot start with '-'"},
		{desc: "unknown state", args: []string{"run", "list", "--state", "done"}, want: "want queued, running"},
		{desc: "missing RUN", args: []string{"reject"}, want: "RUN"},
		{desc: "unknown subcommand", args: []string{"run", "frobnicate"}, want: "unknown command"},
		{desc: "artifacts of a bad ID", args: []string{"run", "artifacts", "shop"}, want: "not a run ID"},
		{desc: "download without --step", args: []string{"run", "download", "shop.1"}, want: "--step is required"},
		{desc: "download a bad ID", args: []string{"run", "download", "shop.x", "--step", "build"}, want: "not a run ID"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, env, tc.args...)
			if res.code != ExitBadInput || !strings.Contains(res.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", res.code, res.stderr, tc.want)
			}
		})
	}
}

func TestRenderRun(t *testing.T) {
	t.Parallel()
	start := testNow.Add(-time.Minute)
	run := api.Run{
		ID: "shop.3", App: "shop", Number: 3, Trigger: "push", Ref: "refs/heads/main", Commit: "0123456789abcdef0123",
		By: "github", State: api.RunFailed, Reason: "step test failed: exit code 2", ExitCode: 2, CreatedAt: start,
		Steps: []api.RunStep{
			{Name: "test", Kind: "run", Status: "failure", Attempt: 1, ExitCode: 2, Reason: "exit code 2", DurationMS: 1500, StartedAt: start, FinishedAt: start.Add(1500 * time.Millisecond)},
			{Name: "deploy", Kind: "deploy", Status: "skipped", Reason: "needs test, which failed"},
		},
		Approvals: []api.Approval{{Step: "ok", Who: "u1", Decision: "approve", Comment: "fine", Time: start}},
	}
	var b strings.Builder
	if err := renderRun(&b, run, testNow); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"shop.3 (push on refs/heads/main, commit 0123456789ab, by github)", "State:    failed: step test failed", "Exit:     2",
		"test", "1.5s", "needs test, which failed", `ok: approve by u1, 60s ago: "fine"`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

// TestRenderPipeline: pipeline show names the pipeline file, where commit
// status goes and where steps run.
func TestRenderPipeline(t *testing.T) {
	t.Parallel()
	base := api.Pipeline{App: "shop", Git: "https://git.example.com/shop.git", Branch: "main", File: ".ci/pipeline.yaml"}
	tests := []struct {
		desc string
		edit func(*api.Pipeline)
		want []string
	}{
		{"before the first run", func(*api.Pipeline) {}, []string{
			"File:      .ci/pipeline.yaml", "Status:    not reported (source.status unset)",
			"Executor:  not known yet", "not read yet; the first run reads .ci/pipeline.yaml",
		}},
		{"local with status", func(p *api.Pipeline) {
			p.Status, p.Executor = "gitea", "local"
			p.Definition = []byte(`{"on":["push"],"steps":[{"name":"a","run":"make"}]}`)
		}, []string{"Status:    reported to gitea", "Executor:  local (processes on the server's machine)"}},
		{"an environment", func(p *api.Pipeline) { p.Executor = "ci" }, []string{"Executor:  environment ci (pods in its namespace)"}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			p := base
			tt.edit(&p)
			var b strings.Builder
			if err := renderPipeline(&b, p, time.Now()); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}
