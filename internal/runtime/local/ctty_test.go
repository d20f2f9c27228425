package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/runtime/runtimetest"
)

// envTTYServer makes TestControllingTerminalServer play a server started
// in a terminal, with its runtime in the folder it names.
const envTTYServer = "BERTH_LOCAL_TEST_TTY_SERVER"

// TestInstanceHasNoControllingTerminal: a server started in a terminal
// (`berth server` in the foreground, make demo's nohup) starts shims in
// its session, which has that terminal as its controlling terminal. The
// shim gives it up, so the instances never get it: an instance that
// opened /dev/tty would otherwise write over the server's terminal, and
// one that read from it (a password prompt) would be stopped by SIGTTIN
// for good, as a background process group. A shim in a session of its
// own had no terminal either.
func TestInstanceHasNoControllingTerminal(t *testing.T) {
	t.Parallel()
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(master, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer slave.Close()
	var out bytes.Buffer
	cmd := exec.Command(testExe(t), "-test.run=^TestControllingTerminalServer$", "-test.count=1")
	cmd.Env = append(os.Environ(), envTTYServer+"="+t.TempDir())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, &out, &out
	// A session of its own whose controlling terminal is the pty, as a
	// login shell's children have theirs.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Run(); err != nil {
		t.Fatalf("the server in a terminal: %v\n%s", err, out.String())
	}
	m := regexp.MustCompile(`tty server=(\d+) shim=(\d+) instance=(\d+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the server in a terminal said:\n%s", out.String())
	}
	if m[1] == "0" {
		t.Fatalf("the server has no controlling terminal (tty %s): the test set-up failed", m[1])
	}
	if m[2] != "0" || m[3] != "0" {
		t.Errorf("the server's terminal is %s; the shim's is %s and the instance's %s, want none (0)", m[1], m[2], m[3])
	}
}

// TestControllingTerminalServer is the server of
// TestInstanceHasNoControllingTerminal, run in a session with a terminal.
func TestControllingTerminalServer(t *testing.T) {
	dir := os.Getenv(envTTYServer)
	if dir == "" {
		t.Skip("run by TestInstanceHasNoControllingTerminal")
	}
	rt := newTestRuntime(t, dir)
	w := suiteWorkload(t, "tty", runtimetest.Healthy)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rt.Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	ws := waitReady(t, rt, w.ID, 1)
	fmt.Printf("tty server=%d shim=%d instance=%d\n", ttyNr(t, os.Getpid()), ttyNr(t, shimPIDs(t, rt, w.ID)[0]), ttyNr(t, ws.Instances[0].PID))
}

// ttyNr is the controlling terminal of pid (field 7 of /proc/<pid>/stat),
// 0 for none.
func ttyNr(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	fields := bytes.Fields(b[bytes.LastIndexByte(b, ')')+1:])
	n, err := strconv.Atoi(string(fields[4])) // fields[0] is field 3
	if err != nil {
		t.Fatal(err)
	}
	return n
}
