package local

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/spec"
)

// Secrets reach the process's environment and config files its config
// folder; the secret value is in no file of the runtime's folder but the
// instance's own secrets.json (mode 0600), and config files are 0600.
func TestSecretsAndConfigFiles(t *testing.T) {
	t.Parallel()
	const canary = "canary-local-7d1e0b-Xy"
	dir := t.TempDir()
	rt := newTestRuntime(t, dir)
	markFile := filepath.Join(t.TempDir(), "mark")
	w := testProgWorkload(t, "wl-envdump", "envdump", map[string]string{"MARK_FILE": markFile})
	w.Secrets = map[string]string{"SECRET": canary}
	w.Files = map[string]string{"app.conf": "level = debug\n"}
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(canary))
	want := fmt.Sprintf("secret %x config %q", sum[:8], "level = debug\n")
	eventually(t, 10*time.Second, "the instance saw its secret and config file", func() string {
		b, _ := os.ReadFile(markFile)
		if !strings.Contains(string(b), want) {
			return fmt.Sprintf("mark file %q, want %q", b, want)
		}
		return ""
	})
	ws := mustStatus(t, rt, w.ID)
	if strings.Contains(fmt.Sprint(ws), canary) {
		t.Errorf("status holds the secret: %+v", ws)
	}
	inst := rt.layout.instance(w.ID, 0)
	var secretFiles []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSocket != 0 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil // a lock or a file removed meanwhile
		}
		if bytes.Contains(b, []byte(canary)) {
			secretFiles = append(secretFiles, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(secretFiles) != 1 || secretFiles[0] != filepath.Join(inst, fileSecrets) {
		t.Errorf("files holding the secret: %v, want only %s", secretFiles, filepath.Join(inst, fileSecrets))
	}
	for _, p := range []string{filepath.Join(inst, fileSecrets), filepath.Join(inst, dirConfig, "app.conf")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Join(inst, dirConfig)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("config folder: %v, %v; want mode 0700", fi, err)
	}
}

// What the shim records of a process's last output (state.json, which the
// server shows in status and failure messages) has its secrets masked.
func TestShimMasksSecretsInLastOutput(t *testing.T) {
	t.Parallel()
	const canary = "canary-leak-93ab1f-Qw"
	dir := t.TempDir()
	rt := newTestRuntime(t, dir)
	w := testProgWorkload(t, "wl-leak", "envdump", map[string]string{"MARK_FILE": filepath.Join(t.TempDir(), "mark"), "LEAK": "1"})
	w.Secrets = map[string]string{"SECRET": canary}
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	var tail []string
	eventually(t, 10*time.Second, "the process exited with its last output recorded", func() string {
		ws := mustStatus(t, rt, w.ID)
		if len(ws.Instances) == 0 || ws.Instances[0].LastExit == nil {
			return describe(ws)
		}
		tail = ws.Instances[0].LastExit.LogTail
		return ""
	})
	joined := strings.Join(tail, "\n")
	if strings.Contains(joined, canary) || !strings.Contains(joined, "connecting with password ***") {
		t.Errorf("last output = %q, want the secret masked as ***", tail)
	}
	state, err := os.ReadFile(filepath.Join(rt.layout.instance(w.ID, 0), fileState))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(state, []byte(canary)) {
		t.Errorf("state.json holds the secret")
	}
}

// The server's master key (BERTH_MASTER_KEY) never reaches a shim's
// environment: shims outlive the server, and /proc/<pid>/environ of a
// process of the same user is readable by the apps it runs. Not parallel:
// it sets the test binary's environment, which the runtime hands to shims.
func TestShimEnvironmentHasNoMasterKey(t *testing.T) {
	const canary = "master-key-canary-5b2f0c"
	t.Setenv("BERTH_MASTER_KEY", canary)
	rt := newTestRuntime(t, "")
	w := testProgWorkload(t, "wl-shimenv", "envdump", map[string]string{"MARK_FILE": filepath.Join(t.TempDir(), "mark")})
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	var pid int
	eventually(t, 10*time.Second, "the shim recorded its pid", func() string {
		st, err := readState(rt.layout.instance(w.ID, 0))
		if err != nil || st.ShimPID == 0 {
			return fmt.Sprintf("no shim pid yet (%v)", err)
		}
		pid = st.ShimPID
		return ""
	})
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(environ, []byte(envShim+"=")) {
		t.Fatalf("pid %d is not the shim: environment lacks %s", pid, envShim)
	}
	if bytes.Contains(environ, []byte(canary)) {
		t.Errorf("the shim (pid %d) has the server's BERTH_MASTER_KEY in its environment", pid)
	}
}

// A failing exec health check runs with the instance's secrets, and its
// last line of output becomes the instance's message (state.json, status).
// The secret is masked there, also when the line is longer than the 200
// bytes kept: a secret cut short would slip past any later masking.
func TestShimMasksSecretsInHealthCheckOutput(t *testing.T) {
	t.Parallel()
	const canary = "canary-health-6e04d2-Zt"
	tests := []struct {
		desc    string
		padding int
	}{
		{desc: "short line", padding: 1},
		// 170 bytes of padding and 17 of text: the 200 bytes kept end
		// inside the secret.
		{desc: "line cut inside the secret", padding: 170},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rt := newTestRuntime(t, "")
			w := testProgWorkload(t, fmt.Sprintf("wl-healthleak-%d", i), "envdump", map[string]string{"MARK_FILE": filepath.Join(t.TempDir(), "mark")})
			w.Secrets = map[string]string{"SECRET": canary}
			script := fmt.Sprintf(`printf '%%0%dd auth failed for %%s\n' 0 "$SECRET"; exit 1`, tt.padding)
			w.Spec.Health = &spec.Health{
				Exec:             &spec.ExecCheck{Command: []string{"sh", "-c", script}},
				Interval:         spec.Duration(100 * time.Millisecond),
				Timeout:          spec.Duration(2 * time.Second),
				FailureThreshold: 1,
				SuccessThreshold: 1,
			}
			if err := rt.Apply(t.Context(), w); err != nil {
				t.Fatal(err)
			}
			var msg string
			eventually(t, 10*time.Second, "the health check failed with its output in the message", func() string {
				ws := mustStatus(t, rt, w.ID)
				if len(ws.Instances) == 0 || !strings.Contains(ws.Instances[0].Message, "auth failed") {
					return describe(ws)
				}
				msg = ws.Instances[0].Message
				return ""
			})
			if strings.Contains(msg, canary[:8]) {
				t.Errorf("instance message %q holds (part of) the secret", msg)
			}
			state, err := os.ReadFile(filepath.Join(rt.layout.instance(w.ID, 0), fileState))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(state, []byte(canary[:8])) {
				t.Errorf("state.json holds (part of) the secret: %s", state)
			}
		})
	}
}
