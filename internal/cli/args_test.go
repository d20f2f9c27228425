package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad flags and arguments are usage errors: exit 2, a message naming what
// is wrong, and a pointer to --help. None of these reach a server (there
// is none configured).
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		args []string
		want string // in stderr
	}{
		{desc: "unknown command", args: []string{"deploy"}, want: `unknown command "deploy"`},
		{desc: "unknown flag", args: []string{"apps", "--bogus"}, want: "unknown flag: --bogus"},
		{desc: "bad output format", args: []string{"apps", "-o", "xml"}, want: "must be one of table, json, yaml"},
		{desc: "apps takes no argument", args: []string{"apps", "shop"}, want: `unexpected argument "shop"`},
		{desc: "status needs APP", args: []string{"status"}, want: "missing APP"},
		{desc: "empty APP", args: []string{"status", " "}, want: "APP must not be empty"},
		{desc: "releases needs APP", args: []string{"releases"}, want: "missing APP"},
		{desc: "diff needs two releases", args: []string{"diff", "shop", "1"}, want: "missing TO"},
		{desc: "diff FROM not a number", args: []string{"diff", "shop", "one", "2"}, want: `FROM must be a release number (1, 2, ...), got "one"`},
		{desc: "diff TO zero", args: []string{"diff", "shop", "1", "0"}, want: "TO must be a release number"},
		{desc: "apply needs -f", args: []string{"apply"}, want: `required flag(s) "filename" not set`},
		{desc: "apply bad timeout", args: []string{"apply", "-f", ".", "--timeout", "0s"}, want: "--timeout must be positive"},
		{desc: "apply unparsable timeout", args: []string{"apply", "-f", ".", "--timeout", "soon"}, want: `invalid argument "soon"`},
		{desc: "apply bad wait", args: []string{"apply", "-f", ".", "--wait=maybe"}, want: `invalid argument "maybe"`},
		{desc: "validate needs -f", args: []string{"validate"}, want: `required flag(s) "filename" not set`},
		{desc: "validate missing file", args: []string{"validate", "-f", "/nonexistent/berth.yaml"}, want: "/nonexistent/berth.yaml does not exist"},
		{desc: "rollback negative to", args: []string{"rollback", "shop", "--to", "-1"}, want: "--to must be a release number"},
		{desc: "logs bad target", args: []string{"logs", "shop/"}, want: `expected APP or APP/SERVICE, got "shop/"`},
		{desc: "logs too many slashes", args: []string{"logs", "shop/api/x"}, want: "expected APP or APP/SERVICE"},
		{desc: "logs negative tail", args: []string{"logs", "shop", "--tail", "-5"}, want: "--tail must be 0 (all) or more"},
		{desc: "delete needs APP", args: []string{"delete"}, want: "missing APP"},
		{desc: "rollout needs a weight", args: []string{"rollout", "shop"}, want: "--canary N (start a canary) or --weight N (move the running one) is required"},
		{desc: "rollout both", args: []string{"rollout", "shop", "--canary", "10", "--weight", "20"}, want: "not both"},
		{desc: "rollout canary over 99", args: []string{"rollout", "shop", "--canary", "100"}, want: "--canary must be a percentage from 0 to 99, got 100"},
		{desc: "rollout negative weight", args: []string{"rollout", "shop", "--weight", "-5"}, want: "--weight must be a percentage from 0 to 99, got -5"},
		{desc: "rollout weight not a number", args: []string{"rollout", "shop", "--weight", "half"}, want: `invalid argument "half"`},
		{desc: "rollout needs APP", args: []string{"rollout", "--canary", "5"}, want: "missing APP"},
		{desc: "promote needs APP", args: []string{"promote"}, want: "missing APP"},
		{desc: "promote bad timeout", args: []string{"promote", "shop", "--timeout", "-1s"}, want: "--timeout must be positive"},
		{desc: "abort too many arguments", args: []string{"abort", "shop", "blog"}, want: `unexpected argument "blog"`},
		{desc: "login needs URL", args: []string{"login", "--token", "x"}, want: "missing URL"},
		{desc: "login bad URL", args: []string{"login", "ftp://host", "--token", "x"}, want: "URL must look like http://HOST:PORT"},
		{desc: "login needs token", args: []string{"login", "http://127.0.0.1:1"}, want: "--token is required"},
		{desc: "context use unknown", args: []string{"context", "use", "nope"}, want: `no context named "nope"`},
		{desc: "context stray argument", args: []string{"context", "lst"}, want: `unknown command "lst" for "berth context"`},
		{desc: "unknown --context", args: []string{"--context", "nope", "apps"}, want: `no context named "nope"`},
		{desc: "version bad output", args: []string{"version", "-o", "txt"}, want: "must be one of"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, testEnv(t), tt.args...)
			if res.code != ExitBadInput {
				t.Errorf("exit code = %d, want %d; stderr:\n%s", res.code, ExitBadInput, res.stderr)
			}
			if !strings.HasPrefix(res.stderr, "error: ") || !strings.Contains(res.stderr, tt.want) {
				t.Errorf("stderr = %q, want an error containing %q", res.stderr, tt.want)
			}
			if res.stdout != "" {
				t.Errorf("stdout = %q, want nothing", res.stdout)
			}
		})
	}
}

func TestUsageHint(t *testing.T) {
	t.Parallel()
	res := runCLI(t, testEnv(t), "status")
	if !strings.Contains(res.stderr, "Run 'berth status --help' for usage.") {
		t.Errorf("stderr = %q, want the --help hint", res.stderr)
	}
}

// With nothing configured, commands that need a server fail with exit 1
// and say how to log in.
func TestNotLoggedIn(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"apps"}, {"status", "shop"}, {"logs", "shop/api"}, {"version"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			res := runCLI(t, testEnv(t), args...)
			if res.code != ExitFailure {
				t.Errorf("exit code = %d, want 1; stderr: %s", res.code, res.stderr)
			}
			if !strings.Contains(res.stderr, `run "berth login URL --token TOKEN" first`) {
				t.Errorf("stderr = %q, want the login hint", res.stderr)
			}
		})
	}
}

func TestHelpSucceeds(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{}, {"--help"}, {"apply", "--help"}, {"help", "logs"}} {
		res := runCLI(t, testEnv(t), args...)
		if res.code != ExitOK || !strings.Contains(res.stdout, "Usage:") {
			t.Errorf("%v: code %d, stdout %q, stderr %q", args, res.code, res.stdout, res.stderr)
		}
	}
}

func TestVersionClientOnly(t *testing.T) {
	t.Parallel()
	res := runCLI(t, testEnv(t), "version", "--client")
	if res.code != 0 || !strings.HasPrefix(res.stdout, "Client: v0.0.0-test (go") {
		t.Errorf("code %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}
	res = runCLI(t, testEnv(t), "version", "--client", "-o", "json")
	if res.code != 0 || !strings.Contains(res.stdout, `"version": "v0.0.0-test"`) || strings.Contains(res.stdout, "server") {
		t.Errorf("code %d, stdout %q", res.code, res.stdout)
	}
}

func TestValidateLocal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	bad := filepath.Join(dir, "bad")
	for d, content := range map[string]string{
		good: "name: shop\nservices:\n  web:\n    command: [./web]\n    ports: [8080]\n",
		bad:  "name: Shop!\nservices:\n  web:\n    command: [./web]\n    ports: [70000]\n",
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "berth.yaml"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	res := runCLI(t, testEnv(t), "validate", "-f", good)
	if res.code != 0 || !strings.Contains(res.stdout, "is valid") || !strings.Contains(res.stdout, `app "shop", 1 service`) {
		t.Errorf("good: code %d, stdout %q, stderr %q", res.code, res.stdout, res.stderr)
	}

	res = runCLI(t, testEnv(t), "validate", "-f", bad)
	if res.code != ExitBadInput {
		t.Errorf("bad: code %d, want 2", res.code)
	}
	file := filepath.Join(bad, "berth.yaml")
	for _, want := range []string{
		"error: " + file + " is invalid (2 problems)",
		file + ":1: name:",
		file + ":5: services.web.ports[0]",
	} {
		if !strings.Contains(res.stderr, want) {
			t.Errorf("bad: stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	// apply checks locally first, so it fails the same way with no server.
	res = runCLI(t, testEnv(t), "apply", "-f", bad)
	if res.code != ExitBadInput || !strings.Contains(res.stderr, file+":5:") {
		t.Errorf("apply bad: code %d, stderr %q", res.code, res.stderr)
	}
}
