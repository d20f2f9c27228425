package kube

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The wrapper a step pod runs, run here by a real /bin/sh with a stand-in
// agent that writes its arguments: the script's exit code stays the
// step's and the agent does not run after a failure; after success the
// agent gets the URL and the patterns intact (spaces, globs, quotes).
func TestAgentWrapper(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	agent := filepath.Join(dir, "agent")
	args := filepath.Join(dir, "args")
	if err := os.WriteFile(agent, []byte("#!/bin/sh\nfor a in \"$@\"; do echo \"[$a]\"; done > "+args+"\nexit 7\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(script string, patterns ...string) int {
		cmd := exec.Command("/bin/sh", append([]string{"-c", agentWrapper(agent), "berth-step", script, "http://srv/api/v1/runs/a.1/artifacts/b"}, patterns...)...)
		cmd.Dir = dir
		err := cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}
	if code := run("echo hi; exit 3", "bin/"); code != 3 {
		t.Errorf("failed script: exit %d, want 3", code)
	}
	if _, err := os.Stat(args); err == nil {
		t.Fatal("the agent ran after the script failed")
	}
	if code := run(`test "$0" = /bin/sh && touch ok`, "bin/", "dist/**/*.tgz", "my files/it's"); code != 7 {
		t.Errorf("exit %d, want the agent's 7", code)
	}
	b, err := os.ReadFile(args)
	if err != nil {
		t.Fatal(err)
	}
	want := "[step-agent]\n[upload]\n[--url]\n[http://srv/api/v1/runs/a.1/artifacts/b]\n[--dir]\n[.]\n[--]\n[bin/]\n[dist/**/*.tgz]\n[my files/it's]\n"
	if string(b) != want {
		t.Errorf("agent args:\n%s\nwant:\n%s", b, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "ok")); err != nil {
		t.Error("the script did not run")
	}
	if strings.Contains(agentWrapper(agent), "dist/") {
		t.Error("patterns leak into the shell text")
	}
}
