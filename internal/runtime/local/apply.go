package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/runtime"
)

// Apply records w as desired and makes the instances agree: it starts the
// missing ones (and a new shim for any whose shim died) and stops those with
// an index of Replicas or more, highest first. Stopping is asynchronous:
// Apply returns once the change is under way.
func (r *Runtime) Apply(ctx context.Context, w runtime.Workload) error {
	if err := validateWorkload(w); err != nil {
		return err
	}
	if r.closed() {
		return ErrClosed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Resolve first, so a workload that cannot run is refused and changes
	// nothing.
	if _, err := r.template(w); err != nil {
		return err
	}
	if err := os.MkdirAll(r.layout.instances(w.ID), 0o755); err != nil {
		return fmt.Errorf("local runtime: %w", err)
	}
	// What was desired before, for instances older than KeepHash (keep.go).
	var prev *runtime.Workload
	if p, err := r.readWorkload(w.ID); err == nil {
		prev = &p
	}
	if err := writeJSONAtomic(filepath.Join(r.layout.workload(w.ID), fileWorkload), w); err != nil {
		return fmt.Errorf("local runtime: %w", err)
	}
	return r.reconcile(ctx, w, prev)
}

// reconcile makes the instance folders of w agree with w. prev is the
// workload Apply replaced, nil when healing. Callers hold r.mu.
func (r *Runtime) reconcile(ctx context.Context, w runtime.Workload, prev *runtime.Workload) error {
	indexes, err := r.layout.instanceIndexes(w.ID)
	if err != nil {
		return err
	}
	sort.Sort(sort.Reverse(sort.IntSlice(indexes)))
	for _, n := range indexes {
		if n >= w.Replicas {
			r.retire(w.ID, n)
		}
	}
	var t *instanceTemplate
	var errs []error
	hash := workloadHash(w)
	for n := 0; n < w.Replicas; n++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		dir := r.layout.instance(w.ID, n)
		is, err := readInstanceSpec(dir)
		switch {
		case err == nil && is.SpecHash == hash:
			if !shimAlive(dir) && r.mayStartShim(dir) {
				r.log.Warn("shim not running; starting a new one", "instance", is.ID)
				errs = append(errs, r.startShim(dir))
			}
			continue
		case err == nil && keepable(w, is, prev):
			// Only the release numbers changed (keep.go): nothing to
			// restart or signal.
			errs = append(errs, keepInstance(dir, w, is, hash))
			continue
		case err == nil && reloadable(w, is):
			// Only the config files changed, and the service rereads
			// them when signalled (reload.go).
			errs = append(errs, r.reloadInstance(dir, w, is, hash))
			continue
		case err == nil:
			// The same workload ID with a different spec: replace.
			r.retire(w.ID, n)
		case errors.Is(err, os.ErrNotExist):
			// A folder without instance.json is a creation that did not
			// finish: start over.
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, err)
				continue
			}
		default:
			errs = append(errs, err)
			continue
		}
		if t == nil {
			tt, err := r.template(w)
			if err != nil {
				return err
			}
			t = &tt
		}
		errs = append(errs, r.createInstance(w, *t, n))
	}
	return errors.Join(errs...)
}

func (r *Runtime) createInstance(w runtime.Workload, t instanceTemplate, n int) error {
	is, err := r.newInstanceSpec(w, t, n)
	if err != nil {
		return err
	}
	dir := r.layout.instance(w.ID, n)
	if err := os.MkdirAll(filepath.Join(dir, dirLogs), 0o755); err != nil {
		return err
	}
	// Secrets and config files first: the shim starts once instance.json
	// exists, and reads them then.
	if err := writeInstanceFiles(dir, w); err != nil {
		return err
	}
	if err := writeJSONAtomic(filepath.Join(dir, fileInstance), is); err != nil {
		return err
	}
	r.log.Info("starting instance", "instance", is.ID, "port", is.Port)
	return r.startShim(dir)
}

// mayStartShim limits how often this runtime starts a shim for one
// instance: not while one it started may still be taking its lock, and with
// a growing delay for a shim that keeps dying.
func (r *Runtime) mayStartShim(dir string) bool {
	r.startsMu.Lock()
	defer r.startsMu.Unlock()
	s, ok := r.starts[dir]
	if !ok || time.Since(s.at) > time.Minute {
		return true
	}
	delay := 2 * time.Second << min(s.attempts-1, 4)
	return time.Since(s.at) >= min(delay, 30*time.Second)
}

// recentlyStarted reports whether this runtime started a shim for dir so
// recently that it may not have taken its lock yet.
func (r *Runtime) recentlyStarted(dir string) bool {
	r.startsMu.Lock()
	defer r.startsMu.Unlock()
	s, ok := r.starts[dir]
	return ok && time.Since(s.at) < 2*time.Second
}

// forgetStarts drops what is remembered about dir and the folders in it.
func (r *Runtime) forgetStarts(dir string) {
	r.startsMu.Lock()
	defer r.startsMu.Unlock()
	for d := range r.starts {
		if d == dir || strings.HasPrefix(d, dir+string(filepath.Separator)) {
			delete(r.starts, d)
		}
	}
}

// shimEnviron is the server's environment without the master key: a shim
// outlives the server, and its /proc environ is readable by every process
// of the same user, the apps included. It needs no secret of the server's.
func shimEnviron() []string {
	env := os.Environ()
	return slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, secrets.EnvMasterKey+"=")
	})
}

// startShim starts a detached shim for the instance in dir.
func (r *Runtime) startShim(dir string) error {
	// Each shim appends a few lines; keep one older file, not a lifetime.
	shimLog := filepath.Join(dir, fileShimLog)
	if fi, err := os.Stat(shimLog); err == nil && fi.Size() > 1<<20 {
		_ = os.Rename(shimLog, shimLog+".1")
	}
	logf, err := os.OpenFile(filepath.Join(dir, fileShimLog), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	if f, err := os.OpenFile(filepath.Join(dir, fileLock), os.O_RDONLY|os.O_CREATE, 0o644); err == nil {
		f.Close()
	}
	args := append(append([]string(nil), r.opts.ShimCommand[1:]...), "--dir", dir)
	cmd := exec.Command(r.opts.ShimCommand[0], args...)
	cmd.Dir = dir
	cmd.Env = append(shimEnviron(), r.opts.ShimEnv...)
	cmd.Stdout, cmd.Stderr = logf, logf // stdin stays /dev/null
	// Its own process group: no signal sent to the server's process group
	// (Ctrl-C in its terminal, kill -- -PGID) reaches the shim. Not its own
	// session: Linux's autogroup scheduling gives each session a CPU group of
	// its own, and requests from the gateway (or any proxy beside the server)
	// to an instance in another group had a longer tail, 2-10x at p99 on a
	// quiet machine (docs/architecture.md, "The local runtime"). A
	// terminal's hangup signals only its session leader and foreground
	// group, and the shim takes SIGHUP as "reload" anyway.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start shim %v: %w", r.opts.ShimCommand, err)
	}
	r.startsMu.Lock()
	s := r.starts[dir]
	r.starts[dir] = shimStart{at: time.Now(), attempts: s.attempts + 1}
	r.startsMu.Unlock()
	// Reap the shim when it exits, so it does not linger as a zombie while
	// this server lives. This goroutine is owned by the shim process: it
	// ends when the shim does, and is the only one that outlives Close
	// (after a server restart the shim's new parent reaps it instead).
	go func() { _ = cmd.Wait() }()
	return nil
}
