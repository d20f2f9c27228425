package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestEnvPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		env     []string
		want    int
		wantErr string
	}{
		{desc: "set", env: []string{"A=1", "PORT=38019"}, want: 38019},
		{desc: "missing", env: []string{"A=1"}, wantErr: "no PORT"},
		{desc: "not a number", env: []string{"PORT=x"}, wantErr: "expected a port number"},
		{desc: "out of range", env: []string{"PORT=70000"}, wantErr: "expected a port number"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command("sleep", "30")
			cmd.Env = tc.env
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			waitExec(t, cmd.Process.Pid, "sleep\x0030\x00")
			// Asked again for a while: CI once read an environment without
			// PORT right after Start, which a long-running instance (what
			// the harness reads) never shows.
			var got int
			var err error
			for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				got, err = envPort(cmd.Process.Pid)
				ok := (tc.wantErr != "" && err != nil && strings.Contains(err.Error(), tc.wantErr)) ||
					(tc.wantErr == "" && err == nil && got == tc.want)
				if ok || time.Now().After(deadline) {
					break
				}
			}
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("envPort = %d, %v; want an error with %q", got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("envPort = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}

// waitExec waits until pid runs the program whose command line is
// cmdline: until then /proc/PID/environ is still the parent's (Start
// returns before the child's execve), which CI once saw.
func waitExec(t *testing.T, pid int, cmdline string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && string(b) == cmdline {
			return
		}
	}
	t.Fatalf("pid %d never ran %q", pid, cmdline)
}
