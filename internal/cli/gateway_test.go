package cli

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestGatewayCommand checks how `berth gateway` resolves its server and
// token, and that it ends cleanly when its context ends. (It following a
// real control plane is tested in internal/gatewayd and test/e2e.)
func TestGatewayCommand(t *testing.T) {
	t.Parallel()
	a := newFakeServer(t, "token-a")
	b := newFakeServer(t, "token-b")
	env := testEnv(t)
	if res := runCLI(t, env, "login", a.URL, "--token", "token-a"); res.code != 0 {
		t.Fatalf("login: %d %q", res.code, res.stderr)
	}
	listen := []string{"--listen", "127.0.0.1:0", "--state-file", "-"}

	tests := []struct {
		desc   string
		env    map[string]string
		args   []string
		code   int
		stderr string
		auth   *fakeServer // when set, the Authorization it last saw
		want   string
	}{
		{desc: "nothing to listen on", env: env, args: []string{"gateway", "--listen", ""},
			code: ExitBadInput, stderr: "nothing to serve"},
		{desc: "the saved token never goes to another server", env: env, args: append([]string{"gateway", "--server", b.URL}, listen...),
			code: ExitBadInput, stderr: "no token for " + b.URL},
		{desc: "a rejected token ends the gateway", env: env, args: append([]string{"gateway", "--token", "wrong"}, listen...),
			code: ExitFailure, stderr: "the server rejected the token", auth: a, want: "Bearer wrong"},
		{desc: "BERTH_TOKEN with --server", env: map[string]string{"HOME": t.TempDir(), "BERTH_TOKEN": "nope"},
			args: append([]string{"gateway", "--server", b.URL}, listen...), code: ExitFailure, stderr: "rejected the token", auth: b, want: "Bearer nope"},
		{desc: "no server at all", env: map[string]string{"HOME": t.TempDir()}, args: append([]string{"gateway"}, listen...),
			code: ExitFailure, stderr: "no server configured"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			res := runCLI(t, tt.env, tt.args...)
			if res.code != tt.code || !strings.Contains(res.stderr, tt.stderr) {
				t.Errorf("code %d, stderr %q; want %d and %q", res.code, res.stderr, tt.code, tt.stderr)
			}
			if tt.auth != nil && tt.auth.lastAuth() != tt.want {
				t.Errorf("Authorization %q, want %q", tt.auth.lastAuth(), tt.want)
			}
		})
	}

	// With the context's token it runs until its context ends (SIGTERM in
	// main), then exits 0.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	res := runCLICtx(ctx, t, env, append([]string{"gateway"}, listen...)...)
	if res.code != 0 || !strings.Contains(res.stderr, "berth gateway ready") || !strings.Contains(res.stderr, "berth gateway stopped") {
		t.Errorf("run: code %d, stderr %q", res.code, res.stderr)
	}
	if a.lastAuth() != "Bearer token-a" {
		t.Errorf("Authorization %q, want the context's token", a.lastAuth())
	}
}
