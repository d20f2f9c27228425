package kubetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// A cluster left by a test process that died (Ctrl-C, -timeout) is found
// by its dead owner: its components are killed and its directory removed,
// while a directory whose owner lives is left alone.
func TestSweepStaleKillsWhatDeadTestsLeft(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	binDir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	raw, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	// A "component": a process whose executable is in binDir.
	component := filepath.Join(binDir, "kube-apiserver")
	if err := os.WriteFile(component, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(component, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// A dead owner: a process that has exited.
	dead := exec.Command(sleep, "0")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := makeWorkdir(t, "stale", dead.Process.Pid, cmd.Process.Pid)
	live := makeWorkdir(t, "live", os.Getpid(), cmd.Process.Pid)

	removed := sweepStale(binDir)
	if len(removed) != 1 || removed[0] != stale {
		t.Errorf("sweepStale removed %v, want only %s", removed, stale)
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("the live owner's directory is gone: %v", err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the stale cluster's component still runs")
	}
}

func makeWorkdir(t *testing.T, name string, owner, component int) string {
	t.Helper()
	dir := filepath.Join(workRoot(), name)
	pids := filepath.Join(dir, "clusters", name, "pids")
	if err := os.MkdirAll(pids, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(owner)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pids, "kube-apiserver.pid"), []byte(strconv.Itoa(component)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
