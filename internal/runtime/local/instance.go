package local

import (
	"path/filepath"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// instanceSpec is instance.json: everything a shim needs to run one
// instance. The runtime writes it before the first shim starts; only a
// live config reload changes it afterwards (SpecHash and ReloadSignal,
// see reload.go), and a change of the release numbers alone (SpecHash and
// KeepHash, keep.go); any other change of the workload gets new instances.
type instanceSpec struct {
	ID         string `json:"id"` // "<workload-id>-<index>"
	WorkloadID string `json:"workload_id"`
	Index      int    `json:"index"`
	// UID tells this instance apart from an earlier one with the same ID
	// that may still be stopping (it names the cgroup).
	UID string `json:"uid"`
	// SpecHash is the hash of the workload this instance was made from.
	SpecHash string `json:"spec_hash"`
	// Command is the resolved command: an absolute program path, then the
	// arguments.
	Command []string          `json:"command"`
	Dir     string            `json:"dir"`
	Env     map[string]string `json:"env"`
	// Port is allocated once per instance and kept across restarts of its
	// process.
	Port            int            `json:"port"`
	Health          *spec.Health   `json:"health,omitempty"`
	Resources       spec.Resources `json:"resources,omitzero"`
	StopGracePeriod spec.Duration  `json:"stop_grace_period"`
	Tuning          shimTuning     `json:"tuning"`
	// ReloadHash is the workload's hash without its config files (set for
	// a service that reloads them live): a workload equal but for those
	// is taken by a reload. ReloadSignal is what the process is sent then.
	ReloadHash   string `json:"reload_hash,omitempty"`
	ReloadSignal string `json:"reload_signal,omitempty"`
	// KeepHash is the workload's hash without its release numbers: a
	// workload equal but for those keeps the instance untouched (keep.go).
	// "" in instances made before it was recorded.
	KeepHash string `json:"keep_hash,omitempty"`
	// Notify is the runtime's socket to poke after each state change
	// ("" when the runtime has none).
	Notify string `json:"notify,omitempty"`
}

// shimTuning is the part of Options a shim needs.
type shimTuning struct {
	LogMaxBytes  int64         `json:"log_max_bytes"`
	LogMaxFiles  int           `json:"log_max_files"`
	BackoffBase  spec.Duration `json:"backoff_base"`
	BackoffMax   spec.Duration `json:"backoff_max"`
	BackoffReset spec.Duration `json:"backoff_reset"`
	ReadyAfter   spec.Duration `json:"ready_after"`
}

// instanceState is state.json, written only by the instance's shim.
type instanceState struct {
	ShimPID   int    `json:"shim_pid"`
	ShimStart uint64 `json:"shim_start"`
	// PID is the process (and process group) the shim runs, 0 while none
	// runs; PIDStart its start time, to tell it from a later process that
	// reuses the PID.
	PID       int                   `json:"pid,omitempty"`
	PIDStart  uint64                `json:"pid_start,omitempty"`
	State     runtime.InstanceState `json:"state"`
	Ready     bool                  `json:"ready"`
	Restarts  int                   `json:"restarts"`
	StartedAt time.Time             `json:"started_at,omitzero"`
	LastExit  *runtime.Exit         `json:"last_exit,omitempty"`
	Message   string                `json:"message,omitempty"`
	// Limits says whether resource limits are enforced (WorkloadStatus.Limits).
	Limits string `json:"limits,omitempty"`
	// Reloads counts the live config reloads signalled to the process;
	// ReloadedAt is when the last one was.
	Reloads    int       `json:"reloads,omitempty"`
	ReloadedAt time.Time `json:"reloaded_at,omitzero"`
	// Cgroups are the cgroup folders the process runs in, so whoever finds
	// the shim dead can still kill what it left behind.
	Cgroups []string `json:"cgroups,omitempty"`
}

func readInstanceSpec(dir string) (instanceSpec, error) {
	var s instanceSpec
	err := readJSON(filepath.Join(dir, fileInstance), &s)
	return s, err
}

func readState(dir string) (instanceState, error) {
	var s instanceState
	err := readJSON(filepath.Join(dir, fileState), &s)
	return s, err
}
