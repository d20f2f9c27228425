// Package spec holds the berth.yaml types, their parsing, defaults and
// validation. Every error it returns names the field path that is wrong and
// what was expected, so the CLI and the API can show it unchanged.
//
// docs/spec.md is the user's reference for these types; after Parse every
// default is filled in (see defaults.go), so readers need not repeat them.
package spec

import "time"

// App is one berth.yaml: a set of services, routes and a release strategy.
type App struct {
	Name     string              `json:"name"`
	Source   *Source             `json:"source,omitempty"`
	Services map[string]*Service `json:"services"`
	Routes   []Route             `json:"routes,omitempty"`
	Strategy Strategy            `json:"strategy,omitempty"`
}

// Source says where pipelines fetch the app's code from.
type Source struct {
	Git    string `json:"git"`
	Branch string `json:"branch,omitempty"`
}

// Service is one component of an app.
type Service struct {
	// Build is a shell command run in Dir before the service starts (local runtime).
	Build string `json:"build,omitempty"`
	// Dir is the service's source folder, relative to the folder holding berth.yaml.
	Dir     string            `json:"dir,omitempty"`
	Image   string            `json:"image,omitempty"`
	Command []string          `json:"command,omitempty"`
	Args    []string          `json:"args,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Ports   []Port            `json:"ports,omitempty"`
	// Replicas is a pointer so that an explicit 0 (declared but stopped)
	// differs from unset (DefaultReplicas); see ReplicaCount.
	Replicas  *int      `json:"replicas,omitempty"`
	Health    *Health   `json:"health,omitempty"`
	Resources Resources `json:"resources,omitempty"`
	Volumes   []Volume  `json:"volumes,omitempty"`
	DependsOn []string  `json:"depends_on,omitempty"`
	// StopGracePeriod is how long an instance has between SIGTERM and SIGKILL.
	StopGracePeriod Duration `json:"stop_grace_period,omitempty"`
}

// Port is a port the service listens on. `ports: [8080]` is shorthand for
// `ports: [{port: 8080}]`.
type Port struct {
	Port     int    `json:"port"`
	Name     string `json:"name,omitempty"`
	Protocol string `json:"protocol,omitempty"` // http (default) | tcp
}

// Health is how Berth decides an instance is ready. Exactly one of HTTP, TCP
// and Exec is set.
type Health struct {
	HTTP             *HTTPCheck `json:"http,omitempty"`
	TCP              *TCPCheck  `json:"tcp,omitempty"`
	Exec             *ExecCheck `json:"exec,omitempty"`
	InitialDelay     Duration   `json:"initial_delay,omitempty"`
	Interval         Duration   `json:"interval,omitempty"`
	Timeout          Duration   `json:"timeout,omitempty"`
	FailureThreshold int        `json:"failure_threshold,omitempty"`
	SuccessThreshold int        `json:"success_threshold,omitempty"`
}

// HTTPCheck passes on a 2xx or 3xx answer to GET Path.
type HTTPCheck struct {
	Path string `json:"path,omitempty"`
	Port int    `json:"port,omitempty"` // 0: the instance's main port
}

// TCPCheck passes when a connection to the port opens.
type TCPCheck struct {
	Port int `json:"port,omitempty"`
}

// ExecCheck passes when the command exits 0.
type ExecCheck struct {
	Command []string `json:"command"`
}

// Resources are limits per instance, in Kubernetes quantity notation.
type Resources struct {
	CPU    string `json:"cpu,omitempty"`    // "500m", "1", "2.5"
	Memory string `json:"memory,omitempty"` // "256Mi", "1Gi", "1000000"
}

// Volume is persistent storage that outlives instances and releases.
type Volume struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Size string `json:"size,omitempty"`
}

// Route sends requests for Host and Path to a service's port.
type Route struct {
	Host    string `json:"host"`
	Path    string `json:"path,omitempty"` // prefix, default "/"
	Service string `json:"service"`
	Port    int    `json:"port,omitempty"` // 0: the service's first port
}

// Strategy is how a new release replaces the running one.
type Strategy struct {
	Type string `json:"type,omitempty"` // recreate | rolling (default)
	// MaxSurge is how many extra instances may run during a rolling update.
	MaxSurge int `json:"max_surge,omitempty"`
	// ProgressDeadline is how long a release may take to become healthy
	// before it is marked failed.
	ProgressDeadline Duration `json:"progress_deadline,omitempty"`
}

// Strategy types.
const (
	StrategyRecreate = "recreate"
	StrategyRolling  = "rolling"
	// StrategyCanary is reserved: the spec rejects it until canary releases
	// are implemented, so that an app does not silently get a rolling update.
	StrategyCanary = "canary"
)

// Port protocols.
const (
	ProtocolHTTP = "http"
	ProtocolTCP  = "tcp"
)

// Duration is a time.Duration written as "5s", "1m30s" in YAML and JSON
// (see duration.go).
type Duration time.Duration
