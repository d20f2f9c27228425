package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// berthStdin runs the CLI with stdin fed from in.
func (s *server) berthStdin(in string, args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = append(os.Environ(), "BERTH_URL=http://"+s.api, "BERTH_TOKEN="+s.token,
		"XDG_CONFIG_HOME="+filepath.Join(s.dataDir, "cli-config"))
	cmd.Dir = repoRoot(s.t)
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("berth %v: %v", args, err)
	}
	return string(out), code
}

// vaultPage waits until the test app's page through the gateway holds want.
func (s *server) vaultPage(want string) string {
	s.t.Helper()
	var body string
	eventually(s.t, 90*time.Second, "page says "+want, func() error {
		code, b, err := s.viaGateway("vault.localhost", "/")
		if err != nil {
			return err
		}
		if body = b; code != 200 || !strings.Contains(b, want) {
			return fmt.Errorf("%d %q", code, b)
		}
		return nil
	})
	return body
}

// TestConfigAndSecretsLifecycle drives config sets and secrets through the
// CLI against the real binary, with a real app that reports what it got.
func TestConfigAndSecretsLifecycle(t *testing.T) {
	const canary = "canary-e2e-0c7a55-Rt"
	sum := sha256.Sum256([]byte(canary))
	hash := fmt.Sprintf("%x", sum[:8])
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	apiAddr, gwAddr := freeAddr(t), freeAddr(t)
	s = startServer(t, dataDir, apiAddr, gwAddr)

	// The service names a secret that is not set: the release fails and
	// says how to set it.
	out, code := s.berth("apply", "-f", "test/e2e/testdata/configapp", "--timeout", "3m")
	if code != 1 || !strings.Contains(out, "berth secret set vault DB_PASSWORD") {
		t.Fatalf("apply without the secret: exit %d, want 1 naming the command:\n%s", code, out)
	}
	out, code = s.berthStdin(canary+"\n", "secret", "set", "vault", "DB_PASSWORD")
	if code != 0 || !strings.Contains(out, "version 1") || !strings.Contains(out, "release 2 rolls it out") || strings.Contains(out, canary) {
		t.Fatalf("secret set: exit %d:\n%s", code, out)
	}
	s.vaultPage("greeting=hello secret=" + hash + " file=-")
	list := s.mustBerth("secret", "list", "vault")
	if !strings.Contains(list, "DB_PASSWORD") || strings.Contains(list, canary) {
		t.Errorf("secret list:\n%s", list)
	}

	conf := filepath.Join(t.TempDir(), "app.conf")
	if err := os.WriteFile(conf, []byte("mode=e2e\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = s.mustBerth("config", "set", "vault", "GREETING=bonjour", "--file", "app.conf="+conf, "-m", "french")
	if !strings.Contains(out, "version 1") || !strings.Contains(out, "release 3") {
		t.Errorf("config set:\n%s", out)
	}
	s.vaultPage("greeting=bonjour secret=" + hash + " file=mode=e2e release=3")
	s.mustBerth("config", "set", "vault", "GREETING=hola")
	s.vaultPage("greeting=hola")
	if d := s.mustBerth("config", "diff", "vault"); !strings.Contains(d, "~ GREETING: bonjour -> hola") {
		t.Errorf("config diff:\n%s", d)
	}
	if h := s.mustBerth("config", "history", "vault"); !strings.Contains(h, "french") || strings.Count(h, "\n") != 3 {
		t.Errorf("config history:\n%s", h)
	}
	s.mustBerth("config", "rollback", "vault")
	s.vaultPage("greeting=bonjour secret=" + hash + " file=mode=e2e release=5")
	if g := s.mustBerth("config", "get", "vault", "-o", "json"); !strings.Contains(g, `"rollback_of": 1`) || !strings.Contains(g, `"GREETING": "bonjour"`) {
		t.Errorf("config get:\n%s", g)
	}

	// Bad input: exit 2 naming the field, nothing written.
	for _, args := range [][]string{
		{"config", "set", "vault", "9LIVES=x"},
		{"config", "set", "vault", "=x"},
		{"config", "set", "vault", "NO_EQUALS"},
		{"secret", "set", "vault", "bad-name"},
	} {
		out, code := s.berthStdin("value", args...)
		if code != 2 {
			t.Errorf("berth %s: exit %d, want 2:\n%s", strings.Join(args, " "), code, out)
		}
	}
	if h := s.mustBerth("config", "history", "vault"); strings.Count(h, "\n") != 4 {
		t.Errorf("bad input wrote a version:\n%s", h)
	}

	// The app printed its password; berth logs masks it.
	logs := s.mustBerth("logs", "vault/web", "--tail", "50")
	if !strings.Contains(logs, "connecting with DB_PASSWORD=***") || strings.Contains(logs, canary) {
		t.Errorf("berth logs:\n%s", logs)
	}
	for _, args := range [][]string{{"status", "vault", "-o", "json"}, {"releases", "vault", "-o", "json"}, {"secret", "list", "vault", "-o", "yaml"}} {
		if out := s.mustBerth(args...); strings.Contains(out, canary) {
			t.Errorf("berth %s shows the secret", strings.Join(args, " "))
		}
	}

	// Key rotation with the real binary: refused while the server runs,
	// then done offline; the app still gets its secret afterwards.
	if out, code := s.berth("server", "rotate-key", "--data-dir", dataDir); code == 0 || !strings.Contains(out, "running") {
		t.Errorf("rotate-key with the server running: exit %d\n%s", code, out)
	}
	s.stop()
	out, code = s.berth("server", "rotate-key", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "re-encrypted 1 secrets") {
		t.Fatalf("rotate-key: exit %d\n%s", code, out)
	}
	if err := os.Remove(filepath.Join(dataDir, "master.key.old")); err != nil {
		t.Fatal(err)
	}
	serverLog := s.log.String()
	s = startServer(t, dataDir, apiAddr, gwAddr)
	s.mustBerth("config", "set", "vault", "GREETING=rotated")
	s.vaultPage("greeting=rotated secret=" + hash)

	if strings.Contains(serverLog+s.log.String(), canary) {
		t.Errorf("the server log holds the secret")
	}
	var leaked []string
	_ = filepath.WalkDir(dataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		// An instance's own secrets.json and output are its to hold.
		if d.Name() == "secrets.json" || filepath.Base(filepath.Dir(p)) == "logs" {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(canary)) {
			leaked = append(leaked, p)
		}
		return nil
	})
	if len(leaked) > 0 {
		t.Errorf("files in the data dir holding the secret: %v", leaked)
	}
}
