package local

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/runtime"
)

// ShimMain runs the supervisor of one instance until it is told to stop
// (SIGTERM or SIGINT), and returns the exit code. The CLI's hidden
// `berth shim --dir <instance dir>` calls it; the runtime starts it detached
// in its own process group, with stdout and stderr going to shim.log.
func ShimMain(args []string) int {
	fset := flag.NewFlagSet("shim", flag.ContinueOnError)
	fset.SetOutput(os.Stderr)
	dir := fset.String("dir", "", "the instance folder (holds instance.json)")
	if err := fset.Parse(args); err != nil {
		return 2
	}
	// SIGHUP asks for a live config reload (reload.go). Caught before
	// anything else: the runtime sends it only to a shim whose state.json
	// exists, written well after this.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	closeOnExecInherited()
	dropTerminal()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("shim", os.Getpid())
	if *dir == "" {
		log.Error("--dir: required: the instance folder")
		return 2
	}
	// Work relative to the instance folder: the runtime may move it (to
	// the trash, while stopping) and the shim must not notice.
	if err := os.Chdir(*dir); err != nil {
		log.Error("enter instance folder", "err", err)
		return 2
	}
	lock, err := lockInstance(".", time.Second)
	if errors.Is(err, errLocked) {
		log.Info("another shim supervises this instance; exiting")
		return 0
	}
	if err != nil {
		log.Error("lock instance", "err", err)
		return 1
	}
	defer lock.Close()
	// The runtime moves an instance to the trash before it looks for its
	// shim. Taking the lock first and then checking the folder is still
	// where it was closes the race: either the runtime sees the lock and
	// stops this shim, or this shim sees the move and starts nothing.
	if here, err := os.Stat("."); err != nil {
		return 1
	} else if there, err := os.Stat(*dir); err != nil || !os.SameFile(here, there) {
		log.Info("instance was stopped before its shim started; exiting")
		return 0
	}
	is, err := readInstanceSpec(".")
	if err != nil {
		log.Error("read instance", "err", err)
		return 1
	}
	log = log.With("instance", is.ID)

	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s := &supervisor{log: log, spec: is, ring: lineRing{max: 20}, notify: notifier{path: is.Notify}, hup: hup}
	if err := s.run(ctx); err != nil {
		log.Error("supervise", "err", err)
		return 1
	}
	return 0
}

// supervisor runs one instance's process, again and again, and records
// what happens in state.json.
type supervisor struct {
	log  *slog.Logger
	spec instanceSpec
	env  []string
	// mask hides the instance's secrets in what the shim records of its
	// output (state.json's last lines, which the server shows).
	mask *secrets.Masker
	out  *rotatingWriter
	ring lineRing
	cg   *cgroupSet

	mu  sync.Mutex
	st  instanceState
	gen int // counts process starts; health results of an older run are dropped

	notify notifier // guarded by mu, like st

	// hup receives SIGHUP: reload the config (reload.go).
	hup <-chan os.Signal
}

// update changes the state under the lock and writes state.json if it
// changed. f must replace pointers and slices, never change what they point to.
func (s *supervisor) update(f func(st *instanceState)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateLocked(f)
}

func (s *supervisor) updateLocked(f func(st *instanceState)) {
	old := s.st
	f(&s.st)
	if reflect.DeepEqual(old, s.st) {
		return
	}
	if err := writeJSONAtomic(fileState, s.st); err != nil {
		s.log.Error("write state", "err", err)
		return
	}
	s.notify.send()
}

func (s *supervisor) run(ctx context.Context) error {
	t := s.spec.Tuning
	prev, _ := readState(".")
	start, _ := procStartTime(os.Getpid())
	s.update(func(st *instanceState) {
		*st = instanceState{
			ShimPID: os.Getpid(), ShimStart: start,
			State: runtime.StateStarting, Restarts: prev.Restarts, LastExit: prev.LastExit,
			StartedAt: prev.StartedAt,
		}
	})
	s.log.Info("supervising", "command", s.spec.Command, "port", s.spec.Port)

	// A shim that died (kill -9) leaves its process running without
	// anyone reading its output: stop it before starting a new one.
	if sameProcess(prev.PID, prev.PIDStart) {
		s.log.Warn("stopping the process a previous shim left behind", "pid", prev.PID)
		terminateGroup(ctx, prev.PID, prev.PIDStart, s.spec.StopGracePeriod.D())
	}
	for _, cg := range prev.Cgroups {
		killCgroup(cg)
	}

	out, err := openRotating(filepath.Join(dirLogs, fileOutput), t.LogMaxBytes, t.LogMaxFiles)
	if err != nil {
		return err
	}
	defer func() { _ = out.Close() }()
	s.out = out
	secretEnv, err := readSecrets(".")
	if err != nil {
		return err
	}
	s.env = childEnv(s.spec.Env, secretEnv)
	s.mask = secrets.NewMasker(slices.Collect(maps.Values(secretEnv))...)
	s.cg = setupCgroups(s.spec.ID+"."+s.spec.UID, wantedLimits(s.spec.Resources))
	defer s.cg.remove()
	s.update(func(st *instanceState) { st.Limits, st.Cgroups = s.cg.summary, s.cg.dirs })

	// The reload listener is owned by run: it ends with it.
	reloadCtx, stopReload := context.WithCancel(ctx)
	reloadDone := make(chan struct{})
	go func() {
		defer close(reloadDone)
		for {
			select {
			case <-reloadCtx.Done():
				return
			case <-s.hup:
				s.reload()
			}
		}
	}()
	defer func() { stopReload(); <-reloadDone }()

	restart := !prev.StartedAt.IsZero()
	failures := 0
	for ctx.Err() == nil {
		ranFor, why, stopped := s.runOnce(ctx, restart)
		if stopped {
			break
		}
		restart = true
		if ranFor >= t.BackoffReset.D() {
			failures = 0
		}
		failures++
		delay := backoff(t.BackoffBase.D(), t.BackoffMax.D(), failures)
		s.log.Info("process ended", "why", why, "restart_in", delay)
		s.update(func(st *instanceState) {
			st.State, st.Ready = runtime.StateBackoff, false
			st.Message = fmt.Sprintf("%s; restarting in %s", why, delay)
		})
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
	}
	s.update(func(st *instanceState) {
		st.State, st.Ready, st.PID, st.PIDStart = runtime.StateStopped, false, 0, 0
		st.Message = "stopped"
	})
	s.log.Info("stopped")
	return nil
}

// runOnce starts the process and waits for it to end, or stops it when ctx
// ends (then stopped is true). why says how it ended, for the message.
func (s *supervisor) runOnce(ctx context.Context, restart bool) (ranFor time.Duration, why string, stopped bool) {
	s.ring.reset()
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, "cannot create output pipe: " + err.Error(), false
	}
	cmd := newProcess(s.spec, s.env, pw)
	oomBefore := s.cg.oomKills()
	if err := cmd.Start(); err != nil {
		pw.Close()
		pr.Close()
		return 0, s.startFailed(err, restart), false
	}
	pw.Close() // the process holds its own copy
	pid := cmd.Process.Pid
	if err := s.cg.add(pid); err != nil {
		s.log.Warn("move process into cgroup", "err", err)
		s.update(func(st *instanceState) {
			st.Limits = "not enforced: cannot move the process into its cgroup: " + err.Error()
		})
	}
	pidStart, _ := procStartTime(pid)
	startedAt := time.Now().UTC()
	copyDone := make(chan struct{})
	go func() {
		defer close(copyDone)
		copyLines(s.out, pr, &s.ring)
	}()

	s.mu.Lock()
	s.gen++
	gen := s.gen
	s.updateLocked(func(st *instanceState) {
		st.PID, st.PIDStart, st.StartedAt = pid, pidStart, startedAt
		st.State, st.Ready, st.Message = runtime.StateStarting, false, ""
		if restart {
			st.Restarts++
		}
	})
	s.mu.Unlock()
	s.log.Info("process started", "pid", pid)

	runCtx, cancelRun := context.WithCancel(ctx)
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		s.watchHealth(runCtx, gen)
	}()
	// Wait's error only repeats the exit status, read from cmd.ProcessState.
	waitc := make(chan struct{})
	go func() { _ = cmd.Wait(); close(waitc) }()

	select {
	case <-waitc:
	case <-ctx.Done():
		stopped = true
		s.update(func(st *instanceState) {
			st.State, st.Ready, st.Message = runtime.StateStopping, false, "stopping"
		})
		s.log.Info("stopping process group", "pid", pid, "grace", s.spec.StopGracePeriod.D())
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		grace := time.NewTimer(s.spec.StopGracePeriod.D())
		select {
		case <-waitc:
		case <-grace.C:
			s.log.Warn("grace period over; killing process group", "pid", pid)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			s.cg.killAll()
			<-waitc
		}
		grace.Stop()
	}
	cancelRun()
	<-healthDone
	ranFor = time.Since(startedAt)

	// The leader is gone; whatever it left in its group or cgroup goes too,
	// as when a container's main process ends.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	s.cg.killAll()
	// Something that left the group may still hold the pipe: do not wait
	// for it forever.
	select {
	case <-copyDone:
	case <-time.After(2 * time.Second):
		pr.Close()
		<-copyDone
	}
	pr.Close()

	exit := exitOf(cmd.ProcessState)
	exit.LogTail = s.ring.snapshot()
	for i, l := range exit.LogTail {
		exit.LogTail[i] = s.mask.Mask(l)
	}
	why = describeExit(exit)
	if n := s.cg.oomKills(); n > oomBefore && oomBefore >= 0 {
		why = fmt.Sprintf("killed by the kernel: out of memory (limit %s)", s.spec.Resources.Memory)
	}
	s.update(func(st *instanceState) {
		st.PID, st.PIDStart, st.Ready = 0, 0, false
		st.LastExit = &exit
	})
	return ranFor, why, stopped
}

// startFailed records a process that could not even start (missing or not
// executable program) as an exit, so it is shown like a crash.
func (s *supervisor) startFailed(err error, restart bool) string {
	code := 127
	if errors.Is(err, fs.ErrPermission) {
		code = 126
	}
	line := fmt.Sprintf("berth: cannot start %s: %v", s.spec.Command[0], err)
	_, _ = io.WriteString(s.out, line+"\n")
	s.update(func(st *instanceState) {
		st.PID, st.PIDStart, st.Ready = 0, 0, false
		st.LastExit = &runtime.Exit{Code: code, At: time.Now().UTC(), LogTail: []string{line}}
		if restart {
			st.Restarts++
		}
	})
	return fmt.Sprintf("cannot start: %v", err)
}

// newProcess prepares the instance's process: its own process group (so a
// stop reaches everything it started), a clean environment, and the output
// pipe as stdout and stderr.
func newProcess(is instanceSpec, env []string, out *os.File) *exec.Cmd {
	cmd := exec.Command(is.Command[0], is.Command[1:]...)
	cmd.Dir = is.Dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// childEnv is exactly the instance's environment, plus the few variables
// from the shim's own environment a program expects to find.
func childEnv(env, secretEnv map[string]string) []string {
	all := map[string]string{}
	for _, k := range []string{"PATH", "HOME", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			all[k] = v
		}
	}
	for k, v := range env {
		all[k] = v
	}
	for k, v := range secretEnv {
		all[k] = v
	}
	out := make([]string, 0, len(all))
	for k, v := range all {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func backoff(base, limit time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func exitOf(ps *os.ProcessState) runtime.Exit {
	e := runtime.Exit{Code: ps.ExitCode(), At: time.Now().UTC()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Code = 128 + int(ws.Signal())
		e.Signal = signalName(ws.Signal())
	}
	return e
}

func describeExit(e runtime.Exit) string {
	if e.Signal != "" {
		return "killed by " + e.Signal
	}
	return fmt.Sprintf("exited with code %d", e.Code)
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGABRT: "SIGABRT", syscall.SIGALRM: "SIGALRM", syscall.SIGBUS: "SIGBUS",
	syscall.SIGFPE: "SIGFPE", syscall.SIGHUP: "SIGHUP", syscall.SIGILL: "SIGILL",
	syscall.SIGINT: "SIGINT", syscall.SIGKILL: "SIGKILL", syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGQUIT: "SIGQUIT", syscall.SIGSEGV: "SIGSEGV", syscall.SIGTERM: "SIGTERM",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGUSR2: "SIGUSR2", syscall.SIGXCPU: "SIGXCPU",
}

func signalName(sig syscall.Signal) string {
	if n, ok := signalNames[sig]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(sig))
}
