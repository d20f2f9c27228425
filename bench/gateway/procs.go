package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs owns every long-running process the harness starts: each runs in a
// process group of its own (so that a proxy's workers stop with it) and logs
// to a file. If the harness itself is killed, run.sh still finds them: their
// command lines name the harness's scratch folder.
type procs struct {
	logDir string

	mu   sync.Mutex
	list []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // set before done closes
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start starts argv with env added to the harness's environment.
func (ps *procs) start(name string, argv []string, env ...string) (*proc, error) {
	logf, err := os.OpenFile(filepath.Join(ps.logDir, name+".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", name, argv[0], err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	ps.mu.Lock()
	ps.list = append(ps.list, p)
	ps.mu.Unlock()
	return p, nil
}

// stop ends p's process group: SIGTERM, then SIGKILL after grace.
func (ps *procs) stop(p *proc, grace time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
		<-p.done
	}
}

// stopAll stops every process still running, the latest started first.
func (ps *procs) stopAll() {
	ps.mu.Lock()
	list := append([]*proc(nil), ps.list...)
	ps.list = nil
	ps.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		ps.stop(list[i], 5*time.Second)
	}
}

// logTail returns the end of a process's log, for error messages.
func (ps *procs) logTail(name string) string {
	b, err := os.ReadFile(filepath.Join(ps.logDir, name+".log"))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// freePorts asks the kernel for n distinct free ports on 127.0.0.1.
// Another process could take one before it is used; on this machine that is
// unlikely.
func freePorts(n int) ([]int, error) {
	// Hold every listener until all are chosen so that no two are equal.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// procStat is what the harness reads from /proc/<pid>/stat.
type procStat struct {
	ppid     int
	cpuTicks uint64 // utime + stime, all threads
}

var errNoProcess = errors.New("no such process")

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("%w: %d", errNoProcess, pid)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after the last ')' start at field 3 (state).
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err3 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("parse /proc/%d/stat: %w", pid, err)
	}
	return procStat{ppid: ppid, cpuTicks: utime + stime}, nil
}

// children lists the pids whose parent is pid.
func children(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := readStat(n); err == nil && st.ppid == pid {
			out = append(out, n)
		}
	}
	return out
}

// cpuTicks sums utime+stime over pids; a pid that is gone counts 0.
func cpuTicks(pids []int) uint64 {
	var sum uint64
	for _, p := range pids {
		if st, err := readStat(p); err == nil {
			sum += st.cpuTicks
		}
	}
	return sum
}

// cmdline returns a process's arguments joined by spaces, or "" if it is gone.
func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// clockTicks is the unit of /proc/<pid>/stat's CPU times (USER_HZ).
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(out))); err == nil && n > 0 {
			return float64(n)
		}
	}
	return 100
}

// threads returns how many threads a process has, or 0 if it is gone.
func threads(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// busyTicks is the machine's non-idle CPU time so far, all CPUs, from the
// first line of /proc/stat (user nice system idle iowait irq softirq steal).
func busyTicks() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var sum uint64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		sum += n
	}
	return sum
}

// cpuSample is a point in time from which the CPU used by the benchmark's
// own processes and by everything else on the machine can be told apart.
type cpuSample struct {
	at          time.Time
	busy, proxy uint64
	backend     uint64
	proxyPids   []int
	backendPids []int
}

func sampleCPU(proxy, backend []int) cpuSample {
	return cpuSample{at: time.Now(), busy: busyTicks(), proxy: cpuTicks(proxy), backend: cpuTicks(backend), proxyPids: proxy, backendPids: backend}
}

// since returns the proxy's CPU seconds since s, and how many CPUs' worth
// of work ran on the machine meanwhile outside the proxy, the backend and
// the load generator (whose CPU time the caller knows): other helpers'
// builds and tests on a shared machine show up here.
func (s cpuSample) since(clk float64, generator time.Duration) (proxySec, otherCores float64) {
	now := sampleCPU(s.proxyPids, s.backendPids)
	proxySec = float64(now.proxy-s.proxy) / clk
	ours := proxySec + float64(now.backend-s.backend)/clk + generator.Seconds()
	otherCores = (float64(now.busy-s.busy)/clk - ours) / now.at.Sub(s.at).Seconds()
	return proxySec, max(otherCores, 0)
}
