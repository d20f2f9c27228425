package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Stopping never happens in place: an instance (or a whole workload) is
// first moved to the trash, so the desired layout is right at once and a new
// instance may take the same index, then stopped in the background and
// removed once its shim has exited.

// retire moves instance n of workload id to the trash and stops it in the
// background. Callers hold r.mu.
func (r *Runtime) retire(id string, n int) {
	dir := r.layout.instance(id, n)
	dst := filepath.Join(r.layout.trash(), fmt.Sprintf("%s-%d.%s", id, n, randomHex(4)))
	if err := os.Rename(dir, dst); err != nil {
		r.log.Error("retire instance", "instance", instanceID(id, n), "err", err)
		return
	}
	r.forgetStarts(dir)
	r.log.Info("stopping instance", "instance", instanceID(id, n))
	r.stopInBackground([]string{dst}, dst)
}

// stopInBackground stops the instances in dirs, then removes the folder
// remove. The returned channel gets the outcome. If the runtime closes
// first, or a shim does not exit, the folder stays and the next New tries
// again.
func (r *Runtime) stopInBackground(dirs []string, remove string) <-chan error {
	done := make(chan error, 1)
	r.stoppingMu.Lock()
	r.stopping[remove] = true
	r.stoppingMu.Unlock()
	unmark := func() {
		r.stoppingMu.Lock()
		delete(r.stopping, remove)
		r.stoppingMu.Unlock()
	}
	started := r.spawn(func() {
		var result error
		defer func() { done <- result }()
		defer unmark()
		errc := make(chan error, len(dirs))
		for _, d := range dirs {
			go func() { errc <- stopInstance(r.ctx, d) }()
		}
		var errs []error
		for range dirs {
			errs = append(errs, <-errc)
		}
		if result = errors.Join(errs...); result != nil {
			r.log.Warn("stop instances", "folder", remove, "err", result)
			return
		}
		if err := os.RemoveAll(remove); err != nil {
			r.log.Warn("remove stopped instances", "folder", remove, "err", err)
		}
	})
	if !started {
		unmark()
		done <- ErrClosed
	}
	return done
}

// Delete stops every instance of the workload and removes it once their
// shims have exited, waiting at most the stop grace period plus a few
// seconds. Deleting an unknown workload is not an error.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if !validID.MatchString(id) {
		return nil // such a workload cannot exist
	}
	if r.closed() {
		return ErrClosed
	}
	r.mu.Lock()
	src := r.layout.workload(id)
	dst := filepath.Join(r.layout.trash(), id+"."+randomHex(4))
	err := os.Rename(src, dst)
	var stopped <-chan error
	if err == nil {
		r.forgetStarts(src)
		r.log.Info("deleting workload", "workload", id)
		// Under r.mu, so emptyTrash never sees dst before it is marked
		// as being stopped.
		stopped = r.stopInBackground(instanceDirsIn(dst), dst)
	}
	r.mu.Unlock()
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local runtime: delete %s: %w", id, err)
	}
	select {
	case err := <-stopped:
		if err != nil {
			return fmt.Errorf("local runtime: delete %s: %w", id, err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// instanceDirsIn finds the instance folders (those with instance.json) in
// a trashed workload or instance folder.
func instanceDirsIn(dir string) []string {
	if _, err := os.Stat(filepath.Join(dir, fileInstance)); err == nil {
		return []string{dir}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, dirInstances))
	var out []string
	for _, e := range entries {
		d := filepath.Join(dir, dirInstances, e.Name())
		if _, err := os.Stat(filepath.Join(d, fileInstance)); err == nil {
			out = append(out, d)
		}
	}
	return out
}

// emptyTrash finishes stops a previous server left unfinished, and stops
// that failed in this one (a shim that had not yet recorded itself, say):
// an instance left in the trash would run on unseen, holding its port and
// its volumes, until the next server start. The poll loop calls it every
// trashRetryPolls polls; folders being stopped now are left alone.
func (r *Runtime) emptyTrash() {
	// r.mu: Delete and retire move a folder to the trash and mark it
	// as being stopped under it.
	r.mu.Lock()
	defer r.mu.Unlock()
	entries, err := os.ReadDir(r.layout.trash())
	if err != nil {
		return
	}
	for _, e := range entries {
		d := filepath.Join(r.layout.trash(), e.Name())
		r.stoppingMu.Lock()
		busy := r.stopping[d]
		r.stoppingMu.Unlock()
		if !busy {
			r.stopInBackground(instanceDirsIn(d), d)
		}
	}
}

// stopInstance stops the instance in dir and waits for its shim to exit:
// SIGTERM to the shim, which stops the process group within the grace
// period; SIGKILL to the shim if it does not exit in time. Whatever the shim
// left behind (it may have been killed earlier) is then killed too.
func stopInstance(ctx context.Context, dir string) error {
	is, err := readInstanceSpec(dir)
	if err != nil {
		return err
	}
	grace := is.StopGracePeriod.D()
	if shimAlive(dir) {
		st, ok := shimState(ctx, dir)
		if !ok {
			return fmt.Errorf("instance %s: shim holds its lock but its state names no live shim", is.ID)
		}
		_ = syscall.Kill(st.ShimPID, syscall.SIGTERM)
		if !pollUntil(ctx, grace+3*time.Second, func() bool { return !shimAlive(dir) }) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if sameProcess(st.ShimPID, st.ShimStart) {
				_ = syscall.Kill(st.ShimPID, syscall.SIGKILL)
			}
			pollUntil(ctx, 2*time.Second, func() bool { return !shimAlive(dir) })
		}
	}
	if shimAlive(dir) {
		return fmt.Errorf("instance %s: shim did not exit", is.ID)
	}
	// The shim is gone. If it was killed rather than stopped, its process
	// may still run.
	st, err := readState(dir)
	if err != nil {
		return nil // the shim never wrote state: it never started a process
	}
	terminateGroup(ctx, st.PID, st.PIDStart, grace)
	for _, cg := range st.Cgroups {
		killCgroup(cg)
		removeCgroup(cg)
	}
	return nil
}

// shimState waits briefly for a just-started shim to record its PID.
func shimState(ctx context.Context, dir string) (instanceState, bool) {
	var st instanceState
	ok := pollUntil(ctx, 2*time.Second, func() bool {
		s, err := readState(dir)
		if err != nil || !sameProcess(s.ShimPID, s.ShimStart) {
			return false
		}
		st = s
		return true
	})
	return st, ok
}

// StopAll stops every instance recorded under a runtime folder dir (what
// Options.Dir was), gracefully, whether or not a runtime is open on it, and
// waits for their shims to exit. The workloads stay recorded: a runtime
// opened on dir later starts them again. It is for tests, whose servers
// die with instances still running, and for uninstalling.
func StopAll(ctx context.Context, dir string) error {
	l := layout{root: dir}
	var dirs []string
	ids, err := l.workloadIDs()
	if err != nil {
		return err
	}
	for _, id := range ids {
		dirs = append(dirs, instanceDirsIn(l.workload(id))...)
	}
	trash, _ := os.ReadDir(l.trash())
	for _, e := range trash {
		dirs = append(dirs, instanceDirsIn(filepath.Join(l.trash(), e.Name()))...)
	}
	errc := make(chan error, len(dirs))
	for _, d := range dirs {
		go func() { errc <- stopInstance(ctx, d) }()
	}
	var errs []error
	for range dirs {
		errs = append(errs, <-errc)
	}
	return errors.Join(errs...)
}
