package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/runtimetest"
	"github.com/berthdev/berth/internal/spec"
)

// shimPIDs reads the shim PID of every instance of workload id.
func shimPIDs(t *testing.T, rt *Runtime, id string) map[int]int {
	t.Helper()
	indexes, err := rt.layout.instanceIndexes(id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]int{}
	for _, n := range indexes {
		st, err := readState(rt.layout.instance(id, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = st.ShimPID
	}
	return out
}

func instancePIDs(ws runtime.WorkloadStatus) map[string]int {
	m := map[string]int{}
	for _, in := range ws.Instances {
		m[in.ID] = in.PID
	}
	return m
}

// TestAdoptionAfterRestart is the promise that restarting the server leaves
// running apps running: same PIDs, nothing started twice.
func TestAdoptionAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newTestRuntime(t, dir)
	w := suiteWorkload(t, "adopt", runtimetest.Healthy)
	w.Replicas = 2
	if err := a.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	before := waitReady(t, a, w.ID, 2)
	shimsBefore := shimPIDs(t, a, w.ID)
	// The server dies: the runtime goes away, the shims (separate
	// processes in their own process groups) do not.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := newTestRuntime(t, dir)
	got := mustStatus(t, b, w.ID)
	if !maps2Equal(instancePIDs(got), instancePIDs(before)) || got.Ready != 2 {
		t.Fatalf("after restart: PIDs %v ready %d, want PIDs %v ready 2 (%s)",
			instancePIDs(got), got.Ready, instancePIDs(before), describe(got))
	}
	if err := b.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond) // several heal passes
	got = mustStatus(t, b, w.ID)
	if !maps2Equal(instancePIDs(got), instancePIDs(before)) || got.Ready != 2 {
		t.Fatalf("after Apply on the new runtime: PIDs %v ready %d, want PIDs %v ready 2",
			instancePIDs(got), got.Ready, instancePIDs(before))
	}
	for _, in := range got.Instances {
		if in.Restarts != 0 {
			t.Errorf("instance %s restarted %d times", in.ID, in.Restarts)
		}
	}
	if s := shimPIDs(t, b, w.ID); fmt.Sprint(s) != fmt.Sprint(shimsBefore) {
		t.Errorf("shims changed: before %v, after %v", shimsBefore, s)
	}
	// Each instance was supervised exactly once.
	for n := range 2 {
		log, err := os.ReadFile(filepath.Join(b.layout.instance(w.ID, n), fileShimLog))
		if err != nil {
			t.Fatal(err)
		}
		if c := strings.Count(string(log), "msg=supervising"); c != 1 {
			t.Errorf("instance %d: %d shims supervised it, want 1:\n%s", n, c, log)
		}
	}
}

// TestShimKilledIsHealed kills a shim with SIGKILL: the runtime notices on
// its own, stops the process the dead shim left behind and starts a new
// shim, which starts the process again.
func TestShimKilledIsHealed(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "heal", runtimetest.Healthy)
	if err := rt.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	before := waitReady(t, rt, w.ID, 1).Instances[0]
	dir := rt.layout.instance(w.ID, 0)
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.ShimPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a new shim and process", func() string {
		now, err := readState(dir)
		if err != nil || now.ShimPID == st.ShimPID {
			return "old shim state"
		}
		ws := mustStatus(t, rt, w.ID)
		in := ws.Instances[0]
		if in.PID == before.PID || !in.Ready || in.Restarts < 1 {
			return describe(ws)
		}
		return ""
	})
	if sameProcess(st.PID, st.PIDStart) {
		t.Errorf("the process of the killed shim (pid %d) still runs", st.PID)
	}
}

// TestFailedWhileShimDead: between a shim's death and its replacement the
// instance is reported failed, with a message.
func TestFailedWhileShimDead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newTestRuntime(t, dir)
	w := suiteWorkload(t, "dead", runtimetest.Healthy)
	if err := a.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	waitReady(t, a, w.ID, 1)
	a.Close() // nobody heals now
	st, err := readState(a.layout.instance(w.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	_ = syscall.Kill(st.ShimPID, syscall.SIGKILL)
	eventually(t, 5*time.Second, "failed state", func() string {
		in, _, _ := a.instanceStatus(a.layout.instance(w.ID, 0))
		if in.State != runtime.StateFailed || !strings.Contains(in.Message, "shim") || in.Ready {
			return fmt.Sprintf("%s %q ready=%v", in.State, in.Message, in.Ready)
		}
		return ""
	})
	// A new server heals it.
	b := newTestRuntime(t, dir)
	waitReady(t, b, w.ID, 1)
}

// TestGracefulStop: stopping sends SIGTERM to the whole process group,
// waits the grace period, then kills what is left, grandchildren included.
func TestGracefulStop(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	marks := filepath.Join(t.TempDir(), "marks")
	w := testProgWorkload(t, "tree", "tree", map[string]string{"MARK_FILE": marks})
	const grace = time.Second
	w.Spec.StopGracePeriod = spec.Duration(grace)
	if err := rt.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	pids := map[string]int{}
	eventually(t, 20*time.Second, "three processes", func() string {
		b, _ := os.ReadFile(marks)
		for line := range strings.SplitSeq(string(b), "\n") {
			var role string
			var pid int
			if n, _ := fmt.Sscanf(line, "%s pid %d", &role, &pid); n == 2 {
				pids[role] = pid
			}
		}
		if len(pids) < 3 {
			return fmt.Sprintf("%v", pids)
		}
		return ""
	})
	waitReady(t, rt, w.ID, 1)

	start := time.Now()
	if err := rt.Delete(context.Background(), w.ID); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < grace || took > grace+4*time.Second {
		t.Errorf("Delete took %s, want the grace period (%s) and a little more", took, grace)
	}
	b, _ := os.ReadFile(marks)
	for _, want := range []string{"main got SIGTERM", "child got SIGTERM"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("marks lack %q (the group did not get SIGTERM):\n%s", want, b)
		}
	}
	for role, pid := range pids {
		eventually(t, 2*time.Second, role+" to die", func() string {
			if _, alive := procStartTime(pid); alive {
				return fmt.Sprintf("pid %d alive", pid)
			}
			return ""
		})
	}
}

// TestMemoryLimit runs a process that allocates more than its memory limit:
// the kernel must kill it, and the status says the limits are enforced.
func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("cgroup limits need root; running as uid", os.Geteuid())
	}
	rt := newTestRuntime(t, "")
	w := testProgWorkload(t, "alloc", "alloc", map[string]string{"ALLOC_MIB": "512"})
	w.Spec.Resources = spec.Resources{Memory: "64Mi", CPU: "500m"}
	if err := rt.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	var ws runtime.WorkloadStatus
	eventually(t, 20*time.Second, "limits to be reported", func() string {
		ws = mustStatus(t, rt, w.ID)
		if ws.Limits == "" {
			return "no limits yet"
		}
		return ""
	})
	if strings.HasPrefix(ws.Limits, "not enforced") {
		t.Skip("this host does not allow cgroup limits here: " + ws.Limits)
	}
	if !strings.HasPrefix(ws.Limits, "enforced: memory 64Mi, cpu 500m (cgroup v") {
		t.Fatalf("Limits = %q", ws.Limits)
	}
	st, err := readState(rt.layout.instance(w.ID, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range st.Cgroups {
		if b, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil && strings.TrimSpace(string(b)) != "50000" {
			t.Errorf("%s/cpu.cfs_quota_us = %s, want 50000", d, b)
		}
		if b, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil && !strings.HasPrefix(string(b), "50000 ") {
			t.Errorf("%s/cpu.max = %s, want 50000 100000", d, b)
		}
	}
	eventually(t, 20*time.Second, "the kernel to kill the process", func() string {
		ws = mustStatus(t, rt, w.ID)
		in := ws.Instances[0]
		if in.LastExit == nil {
			return describe(ws)
		}
		if in.LastExit.Signal != "SIGKILL" {
			t.Fatalf("last exit %+v, want SIGKILL from the OOM killer", in.LastExit)
		}
		if slices.Contains(in.LastExit.LogTail, "allocated all") {
			t.Fatalf("the process allocated 512 MiB under a 64 MiB limit: %q", in.LastExit.LogTail)
		}
		if !strings.Contains(in.Message, "out of memory") {
			return "message " + in.Message
		}
		return ""
	})
}

// TestLogRotation: output is rotated by size, no more files are kept than
// asked, and Logs reads across rotated files in order, following included.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	const maxBytes, files, lines = 8 << 10, 4, 600
	rt := newTestRuntime(t, "", func(o *Options) { o.LogMaxBytes, o.LogMaxFiles = maxBytes, files })
	w := testProgWorkload(t, "spam", "spam", map[string]string{"SPAM_LINES": fmt.Sprint(lines), "SPAM_EVERY": "2ms"})
	if err := rt.Apply(context.Background(), w); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := rt.Logs(ctx, w.ID, runtime.LogOptions{Follow: true, Instance: "0"})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var followed []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		followed = append(followed, sc.Text())
		if sc.Text() == "spam done" {
			break
		}
	}
	if err := sc.Err(); err != nil || ctx.Err() != nil {
		t.Fatalf("follow ended after %d lines: %v %v", len(followed), err, ctx.Err())
	}
	checkNumbered(t, "followed", followed, 1, lines)

	logs := filepath.Join(rt.layout.instance(w.ID, 0), dirLogs)
	for i := range files + 1 {
		fi, err := os.Stat(rotatedName(filepath.Join(logs, fileOutput), i))
		switch {
		case i == files && err == nil:
			t.Errorf("%s kept, want at most %d files", fi.Name(), files)
		case i < files && err != nil:
			t.Errorf("rotated file %d: %v", i, err)
		case err == nil && fi.Size() > maxBytes:
			t.Errorf("%s has %d bytes, want at most %d", fi.Name(), fi.Size(), maxBytes)
		}
	}

	// The kept files hold at least files-1 full files of ~100-byte lines.
	const tailN = 201
	got := readLogs(t, rt, w.ID, runtime.LogOptions{Tail: tailN, Instance: w.ID + "-0"})
	if len(got) != tailN || got[tailN-1] != "spam done" {
		t.Fatalf("Tail %d gave %d lines ending %q", tailN, len(got), got[max(0, len(got)-1):])
	}
	checkNumbered(t, "tail", got, lines-tailN+2, lines)

	all := readLogs(t, rt, w.ID, runtime.LogOptions{Instance: "0"})
	if len(all) < 3*maxBytes/100 || len(all) > files*maxBytes/100 {
		t.Errorf("all logs: %d lines, want what %d files of %d bytes hold", len(all), files, maxBytes)
	}
	var first int
	fmt.Sscanf(all[0], "line %d", &first)
	checkNumbered(t, "all", all, first, lines)
}

func readLogs(t *testing.T, rt *Runtime, id string, opts runtime.LogOptions) []string {
	t.Helper()
	rc, err := rt.Logs(context.Background(), id, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var got []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// checkNumbered checks lines are "line <from>" ... "line <to>", "spam done".
func checkNumbered(t *testing.T, what string, lines []string, from, to int) {
	t.Helper()
	if len(lines) != to-from+2 {
		t.Fatalf("%s: %d lines, want %d (%q ... %q)", what, len(lines), to-from+2, lines[:min(3, len(lines))], lines[max(0, len(lines)-3):])
	}
	for i, l := range lines[:len(lines)-1] {
		if want := fmt.Sprintf("line %05d ", from+i); !strings.HasPrefix(l, want) {
			t.Fatalf("%s: line %d is %.20q, want %q", what, i, l, want)
		}
	}
}

func maps2Equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestOneRuntimePerDir: a second runtime on a folder another one uses
// (a second server on the same data dir) is refused: two would start and
// stop each other's instances and take over each other's notify socket.
func TestOneRuntimePerDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := newTestRuntime(t, dir)
	b, err := New(context.Background(), testOptions(t, dir))
	if err == nil {
		b.Close()
		t.Fatal("a second runtime opened the same folder")
	}
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("err = %v, want ErrInUse", err)
	}
	// Once the first one is closed, the folder is free again.
	a.Close()
	c, err := New(context.Background(), testOptions(t, dir))
	if err != nil {
		t.Fatalf("after Close: %v", err)
	}
	defer c.Close()
	// Closing the old one again leaves the new one alone.
	a.Close()
	if _, err := os.Stat(c.notifyPath); c.notifyPath != "" && err != nil {
		t.Errorf("the new runtime's notify socket: %v", err)
	}
	if d, err := New(context.Background(), testOptions(t, dir)); !errors.Is(err, ErrInUse) {
		if d != nil {
			d.Close()
		}
		t.Errorf("with the new runtime open: err = %v, want ErrInUse", err)
	}
}

// TestFailedStopIsRetried: a stop that fails (here the shim's state names
// no live shim for a while, as when a just-started shim is slow to write
// it) is tried again while the runtime runs, instead of leaving the
// instance running unseen in the trash until the next server start.
func TestFailedStopIsRetried(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "retry", runtimetest.Healthy)
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	in := waitReady(t, rt, w.ID, 1).Instances[0]
	dir := rt.layout.instance(w.ID, 0)
	good, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	bad := good
	bad.ShimStart++ // names a process that is not the shim
	if err := writeJSONAtomic(filepath.Join(dir, fileState), bad); err != nil {
		t.Fatal(err)
	}
	w.Replicas = 0
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	// The first stop gives up after waiting 2s for a valid state.
	time.Sleep(2500 * time.Millisecond)
	if !sameProcess(good.ShimPID, good.ShimStart) {
		t.Fatal("the shim stopped although its state named no live shim")
	}
	entries, _ := os.ReadDir(rt.layout.trash())
	if len(entries) != 1 {
		t.Fatalf("trash holds %d entries, want the instance", len(entries))
	}
	trashed := filepath.Join(rt.layout.trash(), entries[0].Name())
	if err := writeJSONAtomic(filepath.Join(trashed, fileState), good); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the retried stop", func() string {
		if sameProcess(good.ShimPID, good.ShimStart) || sameProcess(in.PID, good.PIDStart) {
			return "shim or instance still running"
		}
		if _, err := os.Stat(trashed); err == nil {
			return "trash not emptied"
		}
		return ""
	})
}
