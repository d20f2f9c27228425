package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/spec"
)

func TestParseFull(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(data)
	if err != nil {
		var ve *spec.ValidationError
		if errors.As(err, &ve) {
			t.Fatalf("Parse:\n%s", ve.Detailed("full.yaml"))
		}
		t.Fatal(err)
	}
	if got := len(p.Steps); got != 7 {
		t.Fatalf("steps = %d, want 7", got)
	}
	test := p.Step("test")
	if test.Kind() != KindRun || test.Timeout.D() != 10*time.Minute || test.Retry != 2 {
		t.Errorf("test = %+v", test)
	}
	if test.Cache == nil || test.Cache.Key != `go-{{ hash "go.sum" }}` || len(test.Cache.Paths) != 2 {
		t.Errorf("test.cache = %+v", test.Cache)
	}
	if test.Env["GOFLAGS"] != "-mod=readonly" || test.Env["CGO_ENABLED"] != "0" {
		t.Errorf("test.env = %v (the anchor merge should bring GOFLAGS)", test.Env)
	}
	build := p.Step("build")
	if build.Timeout.D() != DefaultStepTimeout {
		t.Errorf("build timeout = %v, want the default", build.Timeout)
	}
	web := p.Step("web")
	if web.When == nil || web.When.Paths[0] != "web/**" || web.When.Paths[1] != "!web/**/*.md" {
		t.Errorf("web.when = %+v", web.When)
	}
	ap := p.Step("approve").Approval
	if ap.Role != "admin" || ap.Count != 1 || ap.Timeout.D() != 24*time.Hour {
		t.Errorf("approval = %+v, want defaults count 1, timeout 24h", ap)
	}
	if d := p.Step("deploy").Deploy; d.Env != "prod" || d.App != "shop" {
		t.Errorf("deploy = %+v", d)
	}
	n := p.Step("notify").Notify
	if len(n.On) != 2 || p.Step("notify").Timeout.D() != DefaultNotifyTimeout {
		t.Errorf("notify = %+v, want default on and timeout", n)
	}
	if p.Params[1].Name != "VERSION" || !p.Params[1].Required || p.Params[0].Default != "08" {
		t.Errorf("params = %+v", p.Params)
	}
	if p.Schedule != "0 3 * * 1-5" {
		t.Errorf("schedule = %q", p.Schedule)
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		yaml string
		want []string // "line: path: message"
	}{
		{
			desc: "unknown fields with hints",
			yaml: "on: [push]\nsteps:\n  - name: a\n    rnu: make\n    neds: [b]\n    colour: red\n",
			want: []string{
				`3: steps[0]: a step needs exactly one of run, deploy, approval or notify; it has none`,
				`4: steps[0].rnu: unknown field; did you mean "run"?`,
				`5: steps[0].neds: unknown field; did you mean "needs"?`,
				`6: steps[0].colour: unknown field; expected one of: approval, artifacts, cache, deploy, env, image, name, needs, notify, retry, run, secrets, timeout, when`,
			},
		},
		{
			desc: "needs unknown and duplicate names",
			yaml: "on: [push]\nsteps:\n  - name: build\n    run: make\n  - name: build\n    run: make again\n  - name: test\n    run: make test\n    needs: [biuld, nothing, test]\n",
			want: []string{
				`5: steps[1].name: duplicate step name "build" (first at steps[0])`,
				`9: steps[2].needs[0]: unknown step "biuld"; did you mean "build"?`,
				`9: steps[2].needs[1]: unknown step "nothing"`,
				`9: steps[2].needs[2]: a step cannot need itself`,
			},
		},
		{
			desc: "cycle named",
			yaml: "on: [push]\nsteps:\n  - name: lint\n    run: x\n  - name: build\n    run: x\n    needs: [test]\n  - name: test\n    run: x\n    needs: [lint, build]\n",
			want: []string{`5: steps: cycle build -> test -> build`},
		},
		{
			desc: "bad durations and cron",
			yaml: "on: [schedule]\nschedule: \"61 * * * *\"\nsteps:\n  - name: a\n    run: x\n    timeout: 10\n  - name: b\n    run: x\n    timeout: soon\n  - name: c\n    run: x\n    timeout: 48h\n",
			want: []string{
				`2: schedule: minute field "61": 61 is out of range 0-59`,
				`6: steps[0].timeout: expected a duration like "30s", "10m" or "1h30m", got 10 (add a unit, e.g. "10m")`,
				`9: steps[1].timeout: expected a duration like "30s", "10m" or "1h30m", got "soon"`,
				`12: steps[2].timeout: 48h0m0s is longer than the limit of 24h0m0s`,
			},
		},
		{
			desc: "schedule without the event, and events",
			yaml: "on: [push, pusj, push]\nschedule: \"@daily\"\nsteps:\n  - name: a\n    run: x\n    when:\n      events: [tag]\n",
			want: []string{
				`1: on[1]: unknown event "pusj"; did you mean "push"?`,
				`1: on[2]: event "push" is listed twice`,
				`2: schedule: set, but on does not list schedule; add schedule to on or remove this`,
				`7: steps[0].when.events[0]: the pipeline is not started by "tag" (see on), so this never matches`,
			},
		},
		{
			desc: "several kinds and run-only fields",
			yaml: "on: [manual]\nsteps:\n  - name: a\n    run: x\n    deploy: {env: prod}\n  - name: b\n    approval: {role: boss, users: [ann]}\n    image: alpine\n    retry: 1\n",
			want: []string{
				`3: steps[0]: a step does exactly one thing, but this one sets run and deploy; split it into steps joined by needs`,
				`7: steps[1].approval: set role or users, not both`,
				`8: steps[1].image: only run steps use image; this is a approval step`,
				`9: steps[1].retry: an approval step cannot be retried`,
			},
		},
		{
			desc: "approval, deploy and notify rules",
			yaml: "on: [manual]\nsteps:\n  - name: a\n    approval: {users: [ann, ann], count: 3}\n  - name: b\n    deploy: {env: Prod}\n  - name: c\n    notify: {url: \"ftp://x\", on: [done]}\n  - name: d\n    approval: {role: boss}\n",
			want: []string{
				`4: steps[0].approval.users[1]: user "ann" is listed twice`,
				`4: steps[0].approval.count: 3 approvals asked of 2 users can never be given`,
				`6: steps[1].deploy.env: "Prod" is not a valid environment name; expected lowercase letters, digits and '-'`,
				`8: steps[2].notify.url: "ftp://x" is not an http:// or https:// URL`,
				`8: steps[2].notify.on[0]: unknown outcome "done"; expected success or failure`,
				`10: steps[3].approval.role: unknown role "boss"; expected one of: owner, admin, developer, viewer`,
			},
		},
		{
			desc: "paths, globs, env and secrets",
			yaml: "on: [push]\nsteps:\n  - name: a\n    run: x\n    env: {BERTH_X: 1, \"1A\": 2, TOKEN: 3}\n    secrets: [TOKEN, \"bad name\"]\n    artifacts: [/etc/passwd, ../up, \"bin/[x\"]\n    cache: {key: \"go-{{ hsh \\\"a\\\" }}\", paths: [\"~root/x\"]}\n    when: {branches: [], paths: [\"!docs/**\"]}\n",
			want: []string{
				`5: steps[0].env.1A: "1A" is not a valid variable name; expected letters, digits and '_', not starting with a digit`,
				`5: steps[0].env.BERTH_X: "BERTH_X" starts with BERTH_, which Berth reserves for the variables it sets`,
				`6: steps[0].secrets[0]: secret "TOKEN" has the name of a variable in env; a secret is set as the variable of its name, so rename one`,
				`6: steps[0].secrets[1]: "bad name" is not a valid variable name; expected letters, digits and '_', not starting with a digit`,
				`7: steps[0].artifacts[0]: "/etc/passwd" is absolute; expected a path inside the checkout`,
				`7: steps[0].artifacts[1]: "../up" leaves the checkout through ..`,
				`7: steps[0].artifacts[2]: bad glob pattern "bin/[x": [ at offset 4 has no closing ]`,
				`8: steps[0].cache.key: bad template; the only one is {{ hash "path/to/file" }}`,
				`8: steps[0].cache.paths[0]: "~root/x": only ~/ (the step's home) is understood`,
				`9: steps[0].when.branches: an empty list matches nothing; remove it to match everything`,
				`9: steps[0].when.paths: only exclusions ("!..."); add a pattern to include, such as "**"`,
			},
		},
		{
			desc: "type errors and params",
			yaml: "on: push\nparams:\n  - {name: A, required: yes}\n  - {name: A, default: x, required: true}\nsteps:\n  - name: a\n    run: [make]\n    retry: 11\n",
			want: []string{
				`1: on: expected a list of strings, got "push" (write ["push"])`,
				`3: params[0].required: expected true or false, got "yes"`,
				`4: params[1].name: param "A" is declared twice (first at params[0])`,
				`4: params[1].required: a required param has no default; remove required or default`,
				`7: steps[0].run: expected a string, got a list`,
				`8: steps[0].retry: 11 is out of range; expected 0 to 10 extra attempts`,
			},
		},
		{
			desc: "executor",
			yaml: "on: [push]\nexecutor: {env: CI}\nsteps:\n  - name: a\n    run: x\n",
			want: []string{`2: executor.env: "CI" is not a valid environment name; expected lowercase letters, digits and '-'`},
		},
		{
			desc: "executor without env, unknown field",
			yaml: "on: [push]\nexecutor: {envv: ci}\nsteps:\n  - name: a\n    run: x\n",
			want: []string{
				`2: executor.envv: unknown field; did you mean "env"?`,
				`2: executor.env: required; the environment whose cluster runs the steps, e.g. ci (or local for the server's machine)`,
			},
		},
		{
			desc: "duplicate keys",
			yaml: "on: [push]\nsteps:\n  - name: a\n    run: x\n    run: y\n",
			want: []string{`5: steps[0].run: duplicate key (first at line 4)`},
		},
		{
			desc: "empty document",
			yaml: "# nothing\n",
			want: []string{`1: the document is empty; expected a mapping with on and steps`},
		},
		{
			desc: "syntax error",
			yaml: "on: [push\nsteps: x\n",
			want: []string{`1: invalid YAML: did not find expected ',' or ']'`},
		},
		{
			desc: "no on, no steps",
			yaml: "params: []\n",
			want: []string{
				`on: at least one event is required; expected a list of: push, tag, pull_request, manual, schedule`,
				`steps: at least one step is required`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.yaml))
			var ve *spec.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, spec.ErrInvalid) {
				t.Fatalf("Parse = %v, want a *spec.ValidationError", err)
			}
			got := make([]string, len(ve.Problems))
			for i, p := range ve.Problems {
				got[i] = p.String()
				if p.Line > 0 {
					got[i] = strconv.Itoa(p.Line) + ": " + p.String()
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestParseValidFiles parses every example file, the one of
// docs/pipelines.md included.
func TestParseValidFiles(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("example files: %v %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			var ve *spec.ValidationError
			if errors.As(err, &ve) {
				err = errors.New(ve.Detailed(f))
			}
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Caches and artifacts on a cluster are accepted: the step's pod restores
// and saves its cache through the server (they were refused before the
// step agent could).
func TestCacheOnClusterAccepted(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte("on: [push]\nexecutor: {env: ci}\nsteps:\n  - name: a\n    run: x\n    artifacts: [bin/]\n    cache: {key: 'k-{{ hash \"go.sum\" }}', paths: [vendor, ~/.cache/go-build]}\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if s := p.Steps[0]; s.Cache == nil || len(s.Cache.Paths) != 2 || p.ClusterEnv() != "ci" {
		t.Errorf("parsed %+v", s)
	}
}
