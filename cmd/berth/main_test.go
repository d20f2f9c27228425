package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/berthdev/berth/internal/cli"
)

func TestDefaultDataDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		env  map[string]string
		want string
	}{
		{desc: "BERTH_DATA_DIR wins", env: map[string]string{"BERTH_DATA_DIR": "/d", "XDG_DATA_HOME": "/x"}, want: "/d"},
		{desc: "XDG_DATA_HOME", env: map[string]string{"XDG_DATA_HOME": "/x"}, want: "/x/berth"},
		{desc: "home", env: map[string]string{}, want: filepath.Join(".local", "share", "berth")},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := defaultDataDir(func(k string) string { return tt.env[k] })
			if err != nil || !strings.HasSuffix(got, tt.want) {
				t.Errorf("defaultDataDir = %q, %v; want ...%q", got, err, tt.want)
			}
		})
	}
}

// The server and shim commands go through the CLI's error mapping: a bad
// flag is a usage error (exit 2), and the shim stays out of the help.
func TestServerCommandFlags(t *testing.T) {
	t.Parallel()
	run := func(args ...string) (int, string, string) {
		// Should a check ever slip, the server this starts must not take
		// the user's data directory or ports, nor run on: a data dir of
		// the test's, loopback port 0, no gateway, and a short deadline
		// (the flags under test come later and win where they repeat).
		if len(args) > 0 && args[0] == "server" {
			args = append([]string{"server", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--gateway-listen", ""}, args[1:]...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var out, errOut bytes.Buffer
		code := cli.Execute(ctx, args, cli.Options{
			Stdout: &out, Stderr: &errOut,
			Getenv:   func(string) string { return "" },
			Commands: []*cobra.Command{newServerCmd(), newShimCmd()},
		})
		return code, out.String(), errOut.String()
	}
	if code, _, stderr := run("server", "--listne", ":1"); code != 2 || !strings.Contains(stderr, "unknown flag: --listne") {
		t.Errorf("server --listne: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run("server", "--log-level", "loud"); code != 2 || !strings.Contains(stderr, "loud") {
		t.Errorf("server --log-level loud: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run("server", "--database", "mysql://root:hunter2@db/berth"); code != 2 ||
		!strings.Contains(stderr, "--database") || strings.Contains(stderr, "hunter2") {
		t.Errorf("server --database mysql://...: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run("server", "--pipeline-sweep-every", "-1m"); code != 2 || !strings.Contains(stderr, "--pipeline-sweep-every: -1m0s is negative") {
		t.Errorf("server --pipeline-sweep-every -1m: exit %d, stderr %q", code, stderr)
	}
	for _, bad := range []struct{ flag, value, want string }{
		{"--artifact-retention", "-1h", "--artifact-retention: -1h0m0s is negative"},
		{"--artifact-keep-last", "-2", "--artifact-keep-last: -2 is negative"},
		{"--retention-sweep-every", "-5m", "--retention-sweep-every: -5m0s is negative"},
		{"--pipeline-max-parallel-steps", "-1", "--pipeline-max-parallel-steps: -1 is negative"},
		{"--pipeline-max-per-app", "-2", "--pipeline-max-per-app: -2 is negative"},
		{"--pipeline-max-per-team", "-3", "--pipeline-max-per-team: -3 is negative"},
	} {
		if code, _, stderr := run("server", bad.flag, bad.value); code != 2 || !strings.Contains(stderr, bad.want) {
			t.Errorf("server %s %s: exit %d, stderr %q", bad.flag, bad.value, code, stderr)
		}
	}
	if code, _, stderr := run("server", "--pipeline-cache-ttl", "0s"); code != 2 || !strings.Contains(stderr, "--pipeline-cache-ttl: 0s is not positive") {
		t.Errorf("server --pipeline-cache-ttl 0s: exit %d, stderr %q", code, stderr)
	}
	code, stdout, _ := run("--help")
	if code != 0 || !strings.Contains(stdout, "server") || strings.Contains(stdout, "shim") {
		t.Errorf("help: exit %d, lists server but not shim?\n%s", code, stdout)
	}
}
