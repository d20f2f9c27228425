package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// drainWait bounds how long output may still flow once the step's process
// group is dead: only a process that left the group (setsid) can hold the
// pipe open longer, and it must not hang the run.
const drainWait = 2 * time.Second

type procResult struct {
	exitCode            int
	timedOut, cancelled bool
}

// runProcess runs the script in its own process group and returns when
// every process of the group is gone. Timeout and cancel send SIGTERM to
// the group, then SIGKILL after KillGrace; processes the script left
// running in the background are killed when it exits.
func (e *Executor) runProcess(ctx context.Context, s executor.StepSpec, out io.Writer) (procResult, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return procResult{}, fmt.Errorf("local executor: %w", err)
	}
	cmd := exec.Command(e.opts.Shell, "-c", s.Script)
	cmd.Dir = s.Workspace.Src
	cmd.Env = e.env(s)
	cmd.Stdin = nil // /dev/null: a step that reads stdin gets EOF, not a hang
	cmd.Stdout, cmd.Stderr = w, w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if e.cred != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{
			Uid: uint32(e.cred.uid), Gid: uint32(e.cred.gid), Groups: []uint32{},
		}
	}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		return procResult{}, fmt.Errorf("local executor: start: %w", err)
	}
	w.Close() // the children hold the write end now
	pgid := cmd.Process.Pid

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		// Errors writing the log are not the step's failure; the copy goes
		// on draining so the step never blocks on a full pipe.
		_, _ = io.Copy(out, r)
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	var timeout <-chan time.Time
	if s.Timeout > 0 {
		t := time.NewTimer(s.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	var res procResult
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-timeout:
		res.timedOut = true
		waitErr = e.stopGroup(pgid, exited)
	case <-ctx.Done():
		res.cancelled = true
		waitErr = e.stopGroup(pgid, exited)
	}
	// Whatever the script left behind in its group goes with it.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	select {
	case <-copied:
	case <-time.After(drainWait):
		r.Close() // unblocks the copy; a setsid'd process kept the pipe
		<-copied
	}
	r.Close()
	res.exitCode = exitCode(cmd.ProcessState, waitErr)
	return res, nil
}

// stopGroup sends SIGTERM to the group, SIGKILL after the grace period, and
// returns the leader's wait error.
func (e *Executor) stopGroup(pgid int, exited <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	grace := time.NewTimer(e.opts.KillGrace)
	defer grace.Stop()
	select {
	case err := <-exited:
		return err
	case <-grace.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-exited
	}
}

// exitCode is the shell's exit code, or 128+signal when a signal ended it,
// as shells report it.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		return -1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return -1
	}
	return ps.ExitCode()
}
