package local

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/spec"
)

// Resource limits are enforced with cgroups: v2 when the host runs the
// unified hierarchy only, v1 (memory.limit_in_bytes, cpu.cfs_quota_us) on
// v1 and hybrid hosts. Each instance gets berth/<instance-id>.<uid> under
// the cgroup the shim itself runs in, so limits an operator put on Berth
// (a systemd slice, a container) still hold for its instances, and Berth
// only touches the part of the tree it was given. Where that is not
// possible (not root, read-only, no controller), the limits are reported as
// not enforced, with the reason, instead of failing the instance.

const cgroupRoot = "/sys/fs/cgroup"

// cgroupSet is the cgroups one instance's process runs in.
type cgroupSet struct {
	version int
	dirs    []string
	memDir  string // the folder with the memory controller's files, if any
	// summary is WorkloadStatus.Limits.
	summary string
}

type limitsWanted struct {
	memBytes, milliCPU int64
	mem, cpu           string // as written, for messages
}

func wantedLimits(r spec.Resources) limitsWanted {
	m, _ := r.MemoryBytes() // validated by Apply
	c, _ := r.MilliCPU()
	return limitsWanted{memBytes: m, milliCPU: c, mem: r.Memory, cpu: r.CPU}
}

func (l limitsWanted) none() bool { return l.memBytes == 0 && l.milliCPU == 0 }

// setupCgroups creates the instance's cgroups and writes the limits.
func setupCgroups(name string, l limitsWanted) *cgroupSet {
	cs := &cgroupSet{}
	if l.none() {
		return cs
	}
	var enforced, problems []string
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		cs.version = 2
		enforced, problems = cs.setupV2(name, l)
	} else {
		cs.version = 1
		enforced, problems = cs.setupV1(name, l)
	}
	switch {
	case len(problems) == 0:
		cs.summary = fmt.Sprintf("enforced: %s (cgroup v%d)", strings.Join(enforced, ", "), cs.version)
	case len(enforced) == 0:
		cs.summary = "not enforced: " + strings.Join(problems, "; ")
	default:
		cs.summary = fmt.Sprintf("enforced: %s (cgroup v%d); not enforced: %s",
			strings.Join(enforced, ", "), cs.version, strings.Join(problems, "; "))
	}
	return cs
}

func (cs *cgroupSet) setupV1(name string, l limitsWanted) (enforced, problems []string) {
	type ctl struct {
		controller, what string
		write            func(dir string) error
	}
	var ctls []ctl
	if l.memBytes > 0 {
		ctls = append(ctls, ctl{"memory", "memory " + l.mem, func(dir string) error {
			if err := writeFile(dir, "memory.limit_in_bytes", strconv.FormatInt(l.memBytes, 10)); err != nil {
				return err
			}
			// Without this the process could use swap beyond the limit;
			// the file is absent when swap accounting is off.
			if _, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes")); err == nil {
				_ = writeFile(dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(l.memBytes, 10))
			}
			cs.memDir = dir
			return nil
		}})
	}
	if l.milliCPU > 0 {
		ctls = append(ctls, ctl{"cpu", "cpu " + l.cpu, func(dir string) error {
			if err := writeFile(dir, "cpu.cfs_period_us", "100000"); err != nil {
				return err
			}
			return writeFile(dir, "cpu.cfs_quota_us", strconv.FormatInt(l.milliCPU*100, 10))
		}})
	}
	for _, c := range ctls {
		base, err := v1ControllerDir(c.controller)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", c.what, err))
			continue
		}
		dir := filepath.Join(base, "berth", name)
		err = mkdirCgroup(dir)
		if err == nil {
			err = c.write(dir)
		}
		if err != nil {
			_ = os.Remove(dir)
			problems = append(problems, fmt.Sprintf("%s: %v", c.what, err))
			continue
		}
		cs.dirs = append(cs.dirs, dir)
		enforced = append(enforced, c.what)
	}
	return enforced, problems
}

func (cs *cgroupSet) setupV2(name string, l limitsWanted) (enforced, problems []string) {
	own, err := ownCgroup("")
	if err != nil {
		return nil, []string{err.Error()}
	}
	base := filepath.Join(cgroupRoot, own)
	var want []string
	if l.memBytes > 0 {
		want = append(want, "memory")
	}
	if l.milliCPU > 0 {
		want = append(want, "cpu")
	}
	fail := func(err error) ([]string, []string) {
		return nil, []string{fmt.Sprintf("%s: %v", strings.Join(want, ", "), err)}
	}
	// Controllers must be enabled in every parent's subtree_control. The
	// kernel refuses that for a cgroup that holds processes itself (other
	// than the root): then Berth must run in a cgroup delegated to it.
	var enable []string
	for _, c := range want {
		enable = append(enable, "+"+c)
	}
	berth := filepath.Join(base, "berth")
	if err := writeFile(base, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
		return fail(fmt.Errorf("cannot enable controllers under %s (a cgroup v2 folder that holds processes cannot delegate them; run berth in a cgroup of its own, e.g. systemd Delegate=yes): %w", base, err))
	}
	if err := os.MkdirAll(berth, 0o755); err != nil {
		return fail(err)
	}
	if err := writeFile(berth, "cgroup.subtree_control", strings.Join(enable, " ")); err != nil {
		return fail(err)
	}
	dir := filepath.Join(berth, name)
	if err := mkdirCgroup(dir); err != nil {
		return fail(err)
	}
	cs.dirs = []string{dir}
	if l.memBytes > 0 {
		if err := writeFile(dir, "memory.max", strconv.FormatInt(l.memBytes, 10)); err != nil {
			problems = append(problems, fmt.Sprintf("memory %s: %v", l.mem, err))
		} else {
			_ = writeFile(dir, "memory.swap.max", "0")
			cs.memDir = dir
			enforced = append(enforced, "memory "+l.mem)
		}
	}
	if l.milliCPU > 0 {
		if err := writeFile(dir, "cpu.max", fmt.Sprintf("%d 100000", l.milliCPU*100)); err != nil {
			problems = append(problems, fmt.Sprintf("cpu %s: %v", l.cpu, err))
		} else {
			enforced = append(enforced, "cpu "+l.cpu)
		}
	}
	return enforced, problems
}

// add moves process pid into the instance's cgroups.
func (cs *cgroupSet) add(pid int) error {
	var errs []error
	for _, d := range cs.dirs {
		if err := writeFile(d, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// oomKills returns how many processes the kernel killed in the instance's
// memory cgroup for running out of memory (-1 if unknown).
func (cs *cgroupSet) oomKills() int64 {
	if cs.memDir == "" {
		return -1
	}
	file := "memory.oom_control"
	if cs.version == 2 {
		file = "memory.events"
	}
	b, err := os.ReadFile(filepath.Join(cs.memDir, file))
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "oom_kill "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// killAll kills every process left in the instance's cgroups, including any
// that left the process group.
func (cs *cgroupSet) killAll() {
	for _, d := range cs.dirs {
		killCgroup(d)
	}
}

func (cs *cgroupSet) remove() {
	for _, d := range cs.dirs {
		removeCgroup(d)
	}
}

func killCgroup(dir string) {
	if err := writeFile(dir, "cgroup.kill", "1"); err == nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			return
		}
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// removeCgroup removes an (empty) cgroup folder; the kernel may report it
// busy for a moment after its last process died. The shared berth/ folder
// above it goes too once it is empty, so Berth leaves nothing behind in a
// cgroup tree it was only lent.
func removeCgroup(dir string) {
	for range 50 {
		err := syscall.Rmdir(dir)
		if err == nil || errors.Is(err, syscall.ENOENT) {
			if parent := filepath.Dir(dir); filepath.Base(parent) == "berth" {
				_ = syscall.Rmdir(parent) // fails while other instances use it
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// mkdirCgroup creates berth/<name>, retrying when another shim removed the
// shared berth/ folder between the two mkdirs.
func mkdirCgroup(dir string) error {
	var err error
	for range 3 {
		if err = os.MkdirAll(dir, 0o755); !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return err
}

func writeFile(dir, name, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	return errors.Join(werr, f.Close())
}

// v1ControllerDir is the folder of this process's own cgroup in the v1
// hierarchy that has controller.
func v1ControllerDir(controller string) (string, error) {
	own, err := ownCgroup(controller)
	if err != nil {
		return "", err
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(mounts), "\n") {
		pre, post, ok := strings.Cut(line, " - ")
		if !ok {
			continue
		}
		f, p := strings.Fields(pre), strings.Fields(post)
		if len(f) < 5 || len(p) < 3 || p[0] != "cgroup" {
			continue
		}
		if !slices.Contains(strings.Split(p[2], ","), controller) {
			continue
		}
		root, mountPoint := f[3], f[4]
		rel, ok := strings.CutPrefix(own, root)
		if !ok {
			return "", fmt.Errorf("cgroup %s is outside the mounted %s hierarchy", own, controller)
		}
		return filepath.Join(mountPoint, rel), nil
	}
	return "", fmt.Errorf("no cgroup v1 hierarchy with the %s controller is mounted", controller)
}

// ownCgroup is this process's cgroup path in the hierarchy with controller
// ("" for the v2 unified hierarchy), from /proc/self/cgroup.
func ownCgroup(controller string) (string, error) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if controller == "" && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if controller != "" && slices.Contains(strings.Split(parts[1], ","), controller) {
			return parts[2], nil
		}
	}
	if controller == "" {
		return "", errors.New("this process is in no cgroup v2 hierarchy")
	}
	return "", fmt.Errorf("this process is in no cgroup with the %s controller", controller)
}
