package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of every test, so ages in tables are fixed.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type result struct {
	code           int
	stdout, stderr string
}

// testEnv is a fake environment with a private config folder.
func testEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	return map[string]string{"XDG_CONFIG_HOME": dir, "HOME": dir}
}

// runCLI runs the CLI in-process with env as its whole environment.
func runCLI(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	return runCLICtx(context.Background(), t, env, args...)
}

func runCLICtx(ctx context.Context, t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Execute(ctx, args, Options{
		Version:      "v0.0.0-test",
		Stdin:        strings.NewReader(""),
		Stdout:       &out,
		Stderr:       &errOut,
		Getenv:       func(k string) string { return env[k] },
		Now:          func() time.Time { return testNow },
		PollInterval: 20 * time.Millisecond,
	})
	return result{code, out.String(), errOut.String()}
}
