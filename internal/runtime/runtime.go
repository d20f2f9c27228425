// Package runtime defines the interface every place that runs workloads
// implements: the local runtime (processes on this machine) and the
// Kubernetes runtime. The reconciler talks only to this interface.
package runtime

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/berthdev/berth/internal/spec"
)

// ErrNotFound is returned for a workload or instance the runtime does not have.
var ErrNotFound = errors.New("runtime: not found")

// Workload is one service of one release of an app, with a replica count.
// It maps to a Deployment on Kubernetes and to a set of supervised processes
// locally. Applying the same Workload twice changes nothing.
type Workload struct {
	// ID is unique per runtime and stable: "<app>-<service>-r<release>".
	ID       string `json:"id"`
	App      string `json:"app"`
	Service  string `json:"service"`
	Release  int    `json:"release"`
	Replicas int    `json:"replicas"`
	// InstancesOf is the release that started the workload's instances
	// when it is not Release: Release took a config change by a live
	// reload (its files rewritten, the instances signalled, see
	// spec.ServiceConfig), so what a runtime fixes when an instance starts
	// (Kubernetes: the pod template) still names InstancesOf. 0: Release.
	InstancesOf int `json:"instances_of,omitempty"`
	// Spec is the service as declared (defaults applied).
	Spec spec.Service `json:"spec"`
	// Dir is where the command runs (local runtime: the built workspace).
	Dir string `json:"dir,omitempty"`
	// Env is added to Spec.Env: the addresses of dependencies and Berth's own
	// variables. The runtime adds PORT itself.
	Env map[string]string `json:"env,omitempty"`
	// Volumes maps a volume name to where its data lives on this runtime.
	Volumes map[string]string `json:"volumes,omitempty"`
	// Files are config files (name -> content) each instance finds in the
	// folder named by BERTH_CONFIG_DIR, readable only by its user.
	Files map[string]string `json:"files,omitempty"`
	// Secrets are environment variables holding secret values. They are
	// never encoded with the workload (no JSON, no hash, no status): a
	// runtime hands them only to the instance. Which values a workload
	// gets is fixed by its release (the ID): the reconciler resolves the
	// secret versions the release recorded, never the current values, so
	// they need no hash.
	Secrets map[string]string `json:"-"`
}

// InstanceState is the life-cycle state of one instance.
type InstanceState string

// Instance states.
const (
	StateStarting  InstanceState = "starting"  // started, not yet healthy
	StateRunning   InstanceState = "running"   // running and healthy
	StateUnhealthy InstanceState = "unhealthy" // running, health check failing
	StateBackoff   InstanceState = "backoff"   // exited, waiting to restart
	StateStopping  InstanceState = "stopping"
	StateStopped   InstanceState = "stopped"
	StateFailed    InstanceState = "failed" // will not be restarted
)

// Exit describes how an instance's process last ended.
type Exit struct {
	Code   int       `json:"code"`
	Signal string    `json:"signal,omitempty"`
	At     time.Time `json:"at"`
	// LogTail is the last lines the process printed before it ended.
	LogTail []string `json:"log_tail,omitempty"`
}

// Instance is one running copy of a workload.
type Instance struct {
	ID        string        `json:"id"`
	Index     int           `json:"index"`
	State     InstanceState `json:"state"`
	Ready     bool          `json:"ready"`
	PID       int           `json:"pid,omitempty"`
	Port      int           `json:"port,omitempty"`
	Host      string        `json:"host,omitempty"` // address to reach Port on (local: 127.0.0.1)
	Node      string        `json:"node,omitempty"`
	Restarts  int           `json:"restarts"`
	StartedAt time.Time     `json:"started_at,omitempty"`
	LastExit  *Exit         `json:"last_exit,omitempty"`
	// Message says why the instance is not ready (failing check, backoff...).
	Message string `json:"message,omitempty"`
}

// WorkloadStatus is what the runtime actually runs for a workload.
type WorkloadStatus struct {
	ID        string     `json:"id"`
	App       string     `json:"app"`
	Service   string     `json:"service"`
	Release   int        `json:"release"`
	Replicas  int        `json:"replicas"` // desired
	Ready     int        `json:"ready"`
	Instances []Instance `json:"instances"`
	// Limits says whether resource limits are enforced, and if not why.
	Limits string `json:"limits,omitempty"`
	// Autoscale says who scales an autoscaled workload, and if nobody
	// does, that the runtime runs its minimum; "" when not autoscaled.
	Autoscale string `json:"autoscale,omitempty"`
	// Env is the Workload.Env the workload was last applied with (what its
	// instances run with, or are being replaced to run with), so a caller
	// can tell when an address it handed out has changed. nil when the
	// runtime does not report it.
	Env map[string]string `json:"env,omitempty"`
	// Message says why the workload lacks instances it should have when
	// no instance can say it (a quota exceeded, a rollout stuck); "" when
	// nothing is known to be wrong.
	Message string `json:"message,omitempty"`
}

// EventType says what happened to a workload.
type EventType string

// Event types.
const (
	EventChanged EventType = "changed" // an instance changed state
	EventDeleted EventType = "deleted"
)

// Event tells a watcher that a workload's status changed; watchers call
// Status to learn the new state (events are hints, level-based).
type Event struct {
	Type       EventType `json:"type"`
	WorkloadID string    `json:"workload_id"`
	App        string    `json:"app"`
}

// LogOptions selects log output.
type LogOptions struct {
	Instance string // "" for every instance
	Follow   bool
	Tail     int // last N lines per instance; <= 0 for all
}

// Runtime runs workloads. Every method is safe to call concurrently and
// Apply and Delete are idempotent.
type Runtime interface {
	// Apply makes the runtime run w: creates it, or changes its replicas.
	// It returns once the change is accepted, not when instances are healthy.
	Apply(ctx context.Context, w Workload) error
	// Delete stops every instance of the workload gracefully and forgets it.
	// Deleting an unknown workload is not an error.
	Delete(ctx context.Context, id string) error
	// Status returns the workload's actual state, or ErrNotFound.
	Status(ctx context.Context, id string) (WorkloadStatus, error)
	// List returns every workload the runtime runs for the app ("" for all).
	List(ctx context.Context, app string) ([]WorkloadStatus, error)
	// Watch sends an Event whenever a workload's status changes, until ctx ends.
	Watch(ctx context.Context) (<-chan Event, error)
	// Logs streams the workload's output, prefixed per instance.
	Logs(ctx context.Context, id string, opts LogOptions) (io.ReadCloser, error)
}

// Closer is implemented by runtimes that hold resources; Close does not stop
// running instances (they survive the server).
type Closer interface {
	Close() error
}
