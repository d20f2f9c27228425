package kubetest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Each cluster runs in a work directory under workRoot rather than under
// t.TempDir(): kwokctl starts the components in sessions of their own, so
// they outlive a test binary killed by Ctrl-C or -timeout, whose cleanups
// never run. The next Start finds such directories by their dead owner and
// kills what they left (sweepStale).
func workRoot() string { return filepath.Join(os.TempDir(), "berth-kubetest") }

// ownerFile holds the PID of the test process that owns a work directory.
const ownerFile = "owner.pid"

// componentPIDs reads the PID files kwokctl writes for each component
// (<workdir>/clusters/<name>/pids/<binary>.pid).
func componentPIDs(workdir string) []int {
	files, _ := filepath.Glob(filepath.Join(workdir, "clusters", "*", "pids", "*.pid"))
	// A real node's containerd and kubelet (RealNode.start).
	node, _ := filepath.Glob(filepath.Join(workdir, "rn", "*.pid"))
	files = append(files, node...)
	var pids []int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(raw))); err == nil && pid > 0 {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killOurs kills each PID that still runs a binary from binDir, and returns
// how many it killed. Checking the executable guards against a PID that was
// reused by an unrelated process since it was recorded.
func killOurs(pids []int, binDir string) int {
	killed := 0
	for _, pid := range pids {
		exe, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "exe"))
		if err != nil || !strings.HasPrefix(exe, binDir+string(filepath.Separator)) {
			continue
		}
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// waitGone waits, until ctx ends, for each PID to exit (a zombie counts as
// gone: it holds no ports or files). `kwokctl delete` only signals the
// components, so without this a port could still be bound after Close.
func waitGone(ctx context.Context, pids []int) {
	for _, pid := range pids {
		for running(pid) {
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	raw, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses.
	i := strings.LastIndexByte(string(raw), ')')
	return i < 0 || i+2 >= len(raw) || raw[i+2] != 'Z'
}

// sweepStale removes work directories whose owning test process is gone,
// killing their components first. It returns the directories it removed.
func sweepStale(binDir string) []string {
	entries, err := os.ReadDir(workRoot())
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		dir := filepath.Join(workRoot(), e.Name())
		raw, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			// Being created right now, or not ours: leave it.
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		// A zombie owner is dead too: a killed test binary whose parent has
		// not reaped it yet.
		if err != nil || running(owner) {
			continue
		}
		killOurs(componentPIDs(dir), binDir)
		if _, err := os.Stat(filepath.Join(dir, "rn")); err == nil {
			// A real node's shims, and what its kubelet and containerd
			// mounted (removing a mounted directory would fail, or worse).
			killShims(filepath.Join(binDir, "realnode", binShim), filepath.Join(dir, "rn"))
			_ = unmountUnder(filepath.Join(dir, "rn"))
		}
		if os.RemoveAll(dir) == nil {
			removed = append(removed, dir)
		}
	}
	return removed
}
