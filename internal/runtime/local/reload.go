package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// A service that declares `config: {reload: signal}` takes a change of its
// config files without a restart. The reconciler then applies the same
// workload ID with other Files (and the Release whose config they are).
// Instead of replacing the instances, the runtime rewrites each one's
// config folder, file by file with a rename (a reader sees the old file
// or the new one, never half of one), records the new spec hash in
// instance.json, and sends the shim SIGHUP. The shim, which owns the
// process, delivers the declared signal to the process group. Everything
// else of the workload (command, environment, secrets) must be equal, or
// the instances are replaced as before: a process's environment cannot
// change under it.

// reloadSignals maps the names spec.ReloadSignals allows to signals.
var reloadSignals = map[string]syscall.Signal{
	"SIGHUP": syscall.SIGHUP, "SIGUSR1": syscall.SIGUSR1, "SIGUSR2": syscall.SIGUSR2,
}

// reloadHash is workloadHash without what a live reload may change: the
// config files and the release whose config they are.
func reloadHash(w runtime.Workload) string {
	w.Files, w.Release, w.InstancesOf = nil, 0, 0
	return workloadHash(w)
}

// reloadable reports whether an instance made from is can take w by a
// live reload.
func reloadable(w runtime.Workload, is instanceSpec) bool {
	return w.Spec.ReloadsLive() && is.ReloadHash != "" && is.ReloadHash == reloadHash(w)
}

// reloadSignal is the signal the instance's process is sent on a live
// reload; "" for a service that restarts instead.
func reloadSignal(s spec.Service) string {
	if !s.ReloadsLive() {
		return ""
	}
	if s.Config.Signal == "" {
		return spec.DefaultReloadSignal
	}
	return s.Config.Signal
}

// reloadInstance rewrites the config files of the instance in dir, records
// w's hash and tells its shim. A shim that is not running needs no
// telling: the next one starts the process with the new files.
func (r *Runtime) reloadInstance(dir string, w runtime.Workload, is instanceSpec, hash string) error {
	if err := writeConfigFiles(dir, w.Files); err != nil {
		return err
	}
	is.SpecHash, is.ReloadSignal, is.KeepHash = hash, reloadSignal(w.Spec), keepHash(w)
	if err := writeJSONAtomic(filepath.Join(dir, fileInstance), is); err != nil {
		return err
	}
	st, err := readState(dir)
	if err != nil || !sameProcess(st.ShimPID, st.ShimStart) {
		return nil
	}
	r.log.Info("reloading instance config", "instance", is.ID, "signal", is.ReloadSignal)
	if err := syscall.Kill(st.ShimPID, syscall.SIGHUP); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("tell shim of %s to reload: %w", is.ID, err)
	}
	return nil
}

// writeConfigFiles makes the instance's config folder hold exactly files:
// each written to a hidden temporary file and renamed over the old one,
// then the files no longer in the set removed.
func writeConfigFiles(dir string, files map[string]string) error {
	cdir := filepath.Join(dir, dirConfig)
	if err := os.MkdirAll(cdir, 0o700); err != nil {
		return fmt.Errorf("instance config files: %w", err)
	}
	for name, content := range files {
		// Names are checked by the API; a path here would be a bug.
		if name != filepath.Base(name) || name == "." || name == ".." {
			return invalid("workload.files", "%q is not a plain file name", name)
		}
		if err := writeFileAtomic(filepath.Join(cdir, name), []byte(content)); err != nil {
			return fmt.Errorf("instance config file %s: %w", name, err)
		}
	}
	entries, err := os.ReadDir(cdir)
	if err != nil {
		return fmt.Errorf("instance config files: %w", err)
	}
	for _, e := range entries {
		if _, keep := files[e.Name()]; !keep {
			if err := os.RemoveAll(filepath.Join(cdir, e.Name())); err != nil {
				return fmt.Errorf("instance config file %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// writeFileAtomic writes b to path (mode 0600) through a rename.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// reload is the shim's side: on SIGHUP it rereads instance.json and sends
// the process group the signal it names. A process not running now gets
// nothing: the next one starts with the new files.
func (s *supervisor) reload() {
	is, err := readInstanceSpec(".")
	if err != nil {
		s.log.Error("reload: read instance", "err", err)
		return
	}
	sig, ok := reloadSignals[is.ReloadSignal]
	if !ok {
		s.log.Warn("reload asked for an instance that does not reload live; ignored", "signal", is.ReloadSignal)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spec.SpecHash, s.spec.ReloadSignal = is.SpecHash, is.ReloadSignal
	pid, start := s.st.PID, s.st.PIDStart
	if !sameProcess(pid, start) {
		s.log.Info("reload: no process running; the next one reads the new config")
		return
	}
	if err := syscall.Kill(-pid, sig); err != nil {
		s.log.Warn("reload: signal process group", "pid", pid, "signal", is.ReloadSignal, "err", err)
		return
	}
	s.log.Info("reload: signalled process group", "pid", pid, "signal", is.ReloadSignal)
	s.updateLocked(func(st *instanceState) {
		st.Reloads++
		st.ReloadedAt = time.Now().UTC()
	})
}
