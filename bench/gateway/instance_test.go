package main

import (
	"os/exec"
	"strings"
	"testing"
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
			got, err := envPort(cmd.Process.Pid)
			switch {
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("envPort = %d, %v; want an error with %q", got, err, tc.wantErr)
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Errorf("envPort = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
}
