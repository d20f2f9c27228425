package local

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/berthdev/berth/internal/runtime/runtimetest"
)

// TestShimStaysInServerSession: a shim and its instance run in the
// server's session (so in its autogroup, the CPU group the kernel makes per
// session) but in process groups of their own. In a session of their own,
// every request from the gateway or a proxy started beside the server to
// the instance crossed scheduler groups, and its tail latency grew several
// times (bench/RESULTS.md, "Gateway", 2026-11-28).
func TestShimStaysInServerSession(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "session", runtimetest.Healthy)
	if err := rt.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	ws := waitReady(t, rt, w.ID, 1)
	shim := shimPIDs(t, rt, w.ID)[0]
	inst := ws.Instances[0].PID
	mySid, err := unix.Getsid(0)
	if err != nil {
		t.Fatal(err)
	}
	myPgid := syscall.Getpgrp()
	for _, p := range []struct {
		what string
		pid  int
	}{{"shim", shim}, {"instance", inst}} {
		sid, err := unix.Getsid(p.pid)
		if err != nil {
			t.Fatal(err)
		}
		if sid != mySid {
			t.Errorf("%s (pid %d) is in session %d, want the server's session %d", p.what, p.pid, sid, mySid)
		}
		pgid, err := syscall.Getpgid(p.pid)
		if err != nil {
			t.Fatal(err)
		}
		if pgid == myPgid {
			t.Errorf("%s (pid %d) is in the server's process group %d: a signal to that group would reach it", p.what, p.pid, pgid)
		}
		// Where the kernel has autogroups, the group itself is what matters.
		mine, errMine := os.ReadFile("/proc/self/autogroup")
		theirs, errTheirs := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/autogroup")
		if errMine == nil && errTheirs == nil && autogroupName(mine) != autogroupName(theirs) {
			t.Errorf("%s (pid %d) is in %s, want the server's %s", p.what, p.pid, autogroupName(theirs), autogroupName(mine))
		}
	}
}

// autogroupName is "/autogroup-N" from "/autogroup-N nice 0".
func autogroupName(b []byte) string {
	name, _, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
	return name
}
