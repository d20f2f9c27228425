//go:build unix

package build

import (
	"os/exec"
	"syscall"
)

// setProcessGroup starts cmd in its own process group and makes ctx
// cancellation kill the whole group: `sh -c "go build ..."` forks, and
// killing only sh would leave the compiler running.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
