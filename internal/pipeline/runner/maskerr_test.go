package runner

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

// Secrets are masked in what the server itself writes about a step, not
// only in the step's output: here the artifact limit's error names a file
// the step called after its secret, and it must reach the step's reason,
// the run's reason and the log as ***. A multi-line secret (a key) is
// masked whether printed whole or line by line.
func TestSecretsAreMaskedInErrorsAndOnSeveralLines(t *testing.T) {
	t.Parallel()
	const token = "tok-4f9a2c81e7"
	const key = "-----BEGIN TEST KEY-----\nMIIEpAIBAAKCAQEA0secretline\n-----END TEST KEY-----"
	e, _ := setup(t, "maskerr", `on: [manual]
steps:
  - name: keys
    secrets: [DEPLOY_KEY]
    run: |
      printf '%s\n' "$DEPLOY_KEY"
      printf '%s\n' "$DEPLOY_KEY" | sed -n 2p
  - name: build
    needs: [keys]
    secrets: [API_TOKEN]
    run: mkdir -p out && head -c 4096 /dev/zero > "out/$API_TOKEN"
    artifacts: [out/]
`, envOpts{
		secrets: mapSecrets{"API_TOKEN": token, "DEPLOY_KEY": key},
		tweak:   func(o *Options) { o.MaxArtifactBytes = 1000 },
	})
	run := e.waitEnd(e.manual("maskerr", nil).ID)
	build := stepOf(run, "build")
	if run.State != store.RunFailed || build.Status != "failure" {
		t.Fatalf("run = %s (%s), build = %+v\n%s", run.State, run.Reason, build, e.log(run.ID))
	}
	// The error must be the one that names the file, or the test proves
	// nothing.
	if !strings.Contains(build.Reason, "out/***") {
		t.Errorf("build's reason %q does not name the file as out/***", build.Reason)
	}
	log := e.log(run.ID)
	for where, text := range map[string]string{"step reason": build.Reason, "run reason": run.Reason, "log": log} {
		for _, secret := range []string{token, "MIIEpAIBAAKCAQEA0secretline", "BEGIN TEST KEY"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows a secret (%q):\n%s", where, secret, text)
			}
		}
	}
	if n := strings.Count(log, "[keys] ***"); n < 2 {
		t.Errorf("the key, whole and its middle line alone, should show as *** twice; log:\n%s", log)
	}
}
