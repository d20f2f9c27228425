package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/runtimetest"
)

// inheritablePipe opens a pipe without close-on-exec, as a process gets
// from whoever started it (a shell, a CI runner), and returns its inode.
func inheritablePipe(t *testing.T) (r, w int, inode uint64) {
	t.Helper()
	var p [2]int
	if err := syscall.Pipe2(p[:], 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Close(p[0])
		syscall.Close(p[1])
	})
	var st syscall.Stat_t
	if err := syscall.Fstat(p[0], &st); err != nil {
		t.Fatal(err)
	}
	return p[0], p[1], st.Ino
}

// holdsPipe reports which descriptor of process pid is the pipe, or "".
func holdsPipe(t *testing.T, pid int, inode uint64) string {
	t.Helper()
	dir := "/proc/" + strconv.Itoa(pid) + "/fd"
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	want := fmt.Sprintf("pipe:[%d]", inode)
	for _, e := range entries {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == want {
			return e.Name()
		}
	}
	return ""
}

// TestShimsDoNotInheritDescriptors: descriptors the server inherited
// without close-on-exec must not reach the shims and instances, which
// outlive it (they would keep, say, a CI job's output pipe open forever).
func TestShimsDoNotInheritDescriptors(t *testing.T) {
	_, _, inode := inheritablePipe(t)
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "fds", runtimetest.Healthy)
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	in := waitReady(t, rt, w.ID, 1).Instances[0]
	st, err := readState(rt.layout.instance(w.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	if fd := holdsPipe(t, st.ShimPID, inode); fd != "" {
		t.Errorf("the shim (pid %d) inherited the server's descriptor %s", st.ShimPID, fd)
	}
	if fd := holdsPipe(t, in.PID, inode); fd != "" {
		t.Errorf("the instance (pid %d) inherited the server's descriptor %s", in.PID, fd)
	}
}

// TestShimDoesNotPassOnDescriptors: a shim started with
// extra descriptors (by an older server) does not pass them on.
func TestShimDoesNotPassOnDescriptors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newTestRuntime(t, dir)
	w := suiteWorkload(t, "shimfds", runtimetest.Healthy)
	if err := a.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	waitReady(t, a, w.ID, 1)
	a.Close() // nobody heals: this test starts the next shim itself
	idir := a.layout.instance(w.ID, 0)
	old, err := readState(idir)
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(old.ShimPID, syscall.SIGKILL)
	eventually(t, 5*time.Second, "the shim to die", func() string {
		if shimAlive(idir) {
			return "alive"
		}
		return ""
	})

	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	var fst syscall.Stat_t
	if err := syscall.Fstat(int(pr.Fd()), &fst); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testExe(t), "--dir", idir)
	cmd.Env = append(os.Environ(), envShim+"=1")
	cmd.ExtraFiles = []*os.File{pw} // fd 3 of the shim
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait() }()
	var st instanceState
	eventually(t, 10*time.Second, "the new shim to start the process", func() string {
		s, err := readState(idir)
		if err != nil || s.ShimPID != cmd.Process.Pid || !sameProcess(s.PID, s.PIDStart) {
			return fmt.Sprintf("state %+v (%v)", s, err)
		}
		st = s
		return ""
	})
	if fd := holdsPipe(t, st.PID, fst.Ino); fd != "" {
		t.Errorf("the instance (pid %d) inherited the shim's descriptor %s", st.PID, fd)
	}
}
