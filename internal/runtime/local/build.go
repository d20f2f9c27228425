package local

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$`)

func invalid(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidWorkload, field, fmt.Sprintf(format, args...))
}

// validateWorkload checks what the local runtime needs from a Workload.
func validateWorkload(w runtime.Workload) error {
	if !validID.MatchString(w.ID) {
		return invalid("workload.id", "%q must be 1-200 letters, digits, '.', '_' or '-', starting with a letter or digit", w.ID)
	}
	if w.Replicas < 0 {
		return invalid("workload.replicas", "must be 0 or more, got %d", w.Replicas)
	}
	if len(w.Spec.Command) == 0 || w.Spec.Command[0] == "" {
		return invalid("workload.spec.command", "required by the local runtime (the program to run, e.g. [\"./bin/web\"])")
	}
	if w.Dir != "" && !filepath.IsAbs(w.Dir) {
		return invalid("workload.dir", "must be an absolute path, got %q", w.Dir)
	}
	if _, err := w.Spec.Resources.MemoryBytes(); err != nil {
		return invalid("workload.spec.resources.memory", "%v", err)
	}
	if _, err := w.Spec.Resources.MilliCPU(); err != nil {
		return invalid("workload.spec.resources.cpu", "%v", err)
	}
	if h := w.Spec.Health; h != nil {
		n := 0
		for _, set := range []bool{h.HTTP != nil, h.TCP != nil, h.Exec != nil} {
			if set {
				n++
			}
		}
		if n > 1 {
			return invalid("workload.spec.health", "set exactly one of http, tcp and exec")
		}
		if h.Exec != nil && len(h.Exec.Command) == 0 {
			return invalid("workload.spec.health.exec.command", "required: the command to run")
		}
	}
	for name, path := range w.Volumes {
		if !filepath.IsAbs(path) {
			return invalid("workload.volumes."+name, "must be an absolute path, got %q", path)
		}
	}
	return nil
}

// workloadHash identifies what instances of w run. The replica count is left
// out: scaling keeps the instances that exist.
func workloadHash(w runtime.Workload) string {
	w.Replicas = 0
	w.Spec.Replicas = nil
	b, _ := json.Marshal(w) // maps are encoded with sorted keys
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// workDir is where the workload's processes run.
func (r *Runtime) workDir(w runtime.Workload) string {
	if w.Dir != "" {
		return w.Dir
	}
	return r.layout.workload(w.ID)
}

// resolveCommand finds the program to run: a path with a slash is taken
// relative to dir, a bare name is looked for in dir first, then in PATH.
func resolveCommand(name, dir string) (string, error) {
	switch {
	case filepath.IsAbs(name):
		return name, nil
	case strings.Contains(name, "/"):
		return filepath.Join(dir, name), nil
	}
	local := filepath.Join(dir, name)
	if fi, err := os.Stat(local); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
		return local, nil
	}
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%q is neither an executable in %s nor found in PATH", name, dir)
	}
	return filepath.Abs(p)
}

// instanceTemplate holds what every instance of a workload shares.
type instanceTemplate struct {
	command []string
	dir     string
	env     map[string]string
	health  *spec.Health
	hash    string
}

// template resolves the command and prepares volumes and environment.
func (r *Runtime) template(w runtime.Workload) (instanceTemplate, error) {
	dir := r.workDir(w)
	prog, err := resolveCommand(w.Spec.Command[0], dir)
	if err != nil {
		return instanceTemplate{}, invalid("workload.spec.command[0]", "%v", err)
	}
	cmd := append([]string{prog}, w.Spec.Command[1:]...)
	cmd = append(cmd, w.Spec.Args...)

	env := map[string]string{}
	for k, v := range w.Spec.Env {
		env[k] = v
	}
	for k, v := range w.Env {
		env[k] = v
	}
	env[spec.EnvApp] = w.App
	env[spec.EnvService] = w.Service
	// The release that started the workload's instances, as on a
	// cluster: instances added after a live reload or a pipeline-only
	// release see the same number as the ones already running.
	rel := w.Release
	if w.InstancesOf != 0 {
		rel = w.InstancesOf
	}
	env[spec.EnvRelease] = strconv.Itoa(rel)
	volumes := map[string]string{}
	for _, v := range w.Spec.Volumes {
		// Volumes outlive releases: without a folder from the caller they
		// live under the runtime, per app and service.
		volumes[v.Name] = filepath.Join(r.opts.Dir, "volumes", w.App, w.Service, v.Name)
	}
	for name, path := range w.Volumes {
		volumes[name] = path
	}
	for name, path := range volumes {
		if err := os.MkdirAll(path, 0o755); err != nil {
			return instanceTemplate{}, fmt.Errorf("volume %s: %w", name, err)
		}
		env[spec.VolumeEnv(name)] = path
	}

	var health *spec.Health
	if h := w.Spec.Health; h != nil && (h.HTTP != nil || h.TCP != nil || h.Exec != nil) {
		hc := *h
		if hc.Exec != nil {
			ex := *hc.Exec
			ex.Command = append([]string(nil), ex.Command...)
			if p, err := resolveCommand(ex.Command[0], dir); err == nil {
				ex.Command[0] = p
			}
			hc.Exec = &ex
		}
		health = &hc
	}
	return instanceTemplate{command: cmd, dir: dir, env: env, health: health, hash: workloadHash(w)}, nil
}

// newInstanceSpec makes instance.json for instance n of w.
func (r *Runtime) newInstanceSpec(w runtime.Workload, t instanceTemplate, n int) (instanceSpec, error) {
	port, err := r.opts.PortAllocator()
	if err != nil {
		return instanceSpec{}, err
	}
	id := instanceID(w.ID, n)
	env := make(map[string]string, len(t.env)+2)
	for k, v := range t.env {
		env[k] = v
	}
	env[spec.EnvPort] = strconv.Itoa(port)
	env[spec.EnvInstance] = id
	// A service that reloads live has the folder even while it is empty:
	// its environment cannot change when files appear.
	if len(w.Files) > 0 || w.Spec.ReloadsLive() {
		env[spec.EnvConfigDir] = filepath.Join(r.layout.instance(w.ID, n), dirConfig)
	}
	grace := w.Spec.StopGracePeriod.D()
	if grace <= 0 {
		grace = spec.DefaultStopGracePeriod.D()
	}
	o := r.opts
	is := instanceSpec{
		ID:              id,
		WorkloadID:      w.ID,
		Index:           n,
		UID:             randomHex(4),
		SpecHash:        t.hash,
		Command:         t.command,
		Dir:             t.dir,
		Env:             env,
		Port:            port,
		Health:          t.health,
		Resources:       w.Spec.Resources,
		StopGracePeriod: spec.Duration(grace),
		Tuning: shimTuning{
			LogMaxBytes: o.LogMaxBytes, LogMaxFiles: o.LogMaxFiles,
			BackoffBase: spec.Duration(o.BackoffBase), BackoffMax: spec.Duration(o.BackoffMax),
			BackoffReset: spec.Duration(o.BackoffReset), ReadyAfter: spec.Duration(o.ReadyAfter),
		},
		Notify: r.notifyPath,
	}
	if w.Spec.ReloadsLive() {
		is.ReloadHash, is.ReloadSignal = reloadHash(w), reloadSignal(w.Spec)
	}
	is.KeepHash = keepHash(w)
	return is, nil
}

func instanceID(workloadID string, n int) string { return workloadID + "-" + strconv.Itoa(n) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
