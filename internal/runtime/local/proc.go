package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// procStartTime returns the start time of process pid in clock ticks since
// boot (field 22 of /proc/<pid>/stat), and false when the process does not
// exist or is a zombie (it has exited and only waits to be reaped).
func procStartTime(pid int) (uint64, bool) {
	if pid <= 0 {
		return 0, false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may itself contain
	// spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	fields := bytes.Fields(b[i+1:])
	// fields[0] is field 3 (state), so field 22 is fields[19].
	if len(fields) < 20 {
		return 0, false
	}
	if s := fields[0]; len(s) == 1 && (s[0] == 'Z' || s[0] == 'X') {
		return 0, false
	}
	start, err := strconv.ParseUint(string(fields[19]), 10, 64)
	if err != nil {
		return 0, false
	}
	return start, true
}

// sameProcess reports whether pid is alive and is the process that started
// at start (not a later one that reuses the PID).
func sameProcess(pid int, start uint64) bool {
	if pid <= 0 || start == 0 {
		return false
	}
	got, ok := procStartTime(pid)
	return ok && got == start
}

// lockInstance takes the instance's shim lock, retrying for up to wait
// (the runtime's liveness probe holds it shared for an instant). It returns
// errLocked when another shim holds it.
func lockInstance(dir string, wait time.Duration) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, fileLock), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errLocked
			}
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// lockDir takes the runtime's own lock on its folder, held until Close: one
// runtime per folder. The descriptor is close-on-exec, so shims never hold
// it, and the kernel drops the lock when the server dies. It waits up to
// dirLockWait for the lock: a process forked just before a previous holder
// closed it keeps a copy of the descriptor until its exec, and a restarted
// server's predecessor may still be exiting.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, fileDirLock), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	deadline := time.Now().Add(dirLockWait)
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.Close()
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, fmt.Errorf("%w: %s (is another berth server running on the same data dir?)", ErrInUse, dir)
	}
	return nil, fmt.Errorf("local runtime: lock %s: %w", dir, err)
}

// dirLockWait bounds how long New waits for the folder lock.
const dirLockWait = 2 * time.Second

// shimAlive reports whether a shim holds the instance's lock. The kernel
// drops the lock when the shim dies, however it dies, so unlike a PID this
// cannot be fooled by reuse.
func shimAlive(dir string) bool {
	f, err := os.Open(filepath.Join(dir, fileLock))
	if err != nil {
		return false
	}
	defer f.Close()
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
	if err != nil {
		return errors.Is(err, syscall.EWOULDBLOCK)
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// waitGone polls until process pid (started at start) is gone, ctx ends or
// timeout passes, and reports whether it is gone.
func waitGone(ctx context.Context, pid int, start uint64, timeout time.Duration) bool {
	return pollUntil(ctx, timeout, func() bool { return !sameProcess(pid, start) })
}

// pollUntil calls done every 20ms until it returns true (then true), or until
// ctx ends or timeout passes (then false).
func pollUntil(ctx context.Context, timeout time.Duration, done func() bool) bool {
	t := time.NewTimer(timeout)
	defer t.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if done() {
			return true
		}
		select {
		case <-ctx.Done():
			return done()
		case <-t.C:
			return done()
		case <-tick.C:
		}
	}
}

// terminateGroup stops a process group the caller cannot wait for (a
// process left behind by a shim that died): SIGTERM to the group, up to
// grace for the leader to go, then SIGKILL to the group, which also ends
// members that outlived the leader. The kernel does not give a PID to a new
// process while a group with that ID still has members, so killing -pid
// right after the leader went reaches only the leader's own group.
func terminateGroup(ctx context.Context, pid int, start uint64, grace time.Duration) {
	if !sameProcess(pid, start) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	if waitGone(ctx, pid, start, grace) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return
	}
	if sameProcess(pid, start) {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
	}
	waitGone(ctx, pid, start, 2*time.Second)
}

// LockDir takes the lock a runtime holds on dir for its life, so another
// tool (berth server rotate-key) can make sure no server runs on it; the
// lock goes with the returned file's Close.
func LockDir(dir string) (io.Closer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	return lockDir(dir)
}
