package pipeline

import "github.com/berthdev/berth/internal/spec"

// Pipeline is one .berth/pipeline.yaml: the events that start it and the
// steps it runs, which form a DAG through Needs.
type Pipeline struct {
	On []Event `json:"on"`
	// Schedule is a cron expression (see package cron); it is required when
	// On holds "schedule" and refused otherwise.
	Schedule string  `json:"schedule,omitempty"`
	Params   []Param `json:"params,omitempty"`
	// Executor says where run steps execute; nil is the server's machine.
	Executor *Executor `json:"executor,omitempty"`
	Steps    []Step    `json:"steps"`
}

// Event is what starts a run.
type Event string

const (
	EventPush        Event = "push"
	EventTag         Event = "tag"
	EventPullRequest Event = "pull_request"
	EventManual      Event = "manual"
	EventSchedule    Event = "schedule"
)

// Events lists every Event in the order the docs give them.
var Events = []Event{EventPush, EventTag, EventPullRequest, EventManual, EventSchedule}

// Param is a value a run is started with (manual runs may set it; other
// triggers get the default). Steps see it as an environment variable.
type Param struct {
	Name     string `json:"name"`
	Default  string `json:"default,omitempty"`
	Required bool   `json:"required,omitempty"`
}

// Step is one node of the pipeline. Exactly one of Run, Deploy, Approval and
// Notify is set; that is the step's Kind.
type Step struct {
	Name string `json:"name"`
	// Run is a shell script, run with `sh -c` in the checkout.
	Run string `json:"run,omitempty"`
	// Image is the container image for container executors; the local
	// executor ignores it.
	Image string            `json:"image,omitempty"`
	Env   map[string]string `json:"env,omitempty"`
	// Secrets names the secrets the step receives as environment variables
	// of the same name; no other secret reaches it.
	Secrets   []string      `json:"secrets,omitempty"`
	When      *When         `json:"when,omitempty"`
	Needs     []string      `json:"needs,omitempty"`
	Timeout   spec.Duration `json:"timeout,omitempty"`
	Retry     int           `json:"retry,omitempty"`
	Artifacts []string      `json:"artifacts,omitempty"`
	Cache     *Cache        `json:"cache,omitempty"`

	Deploy   *Deploy   `json:"deploy,omitempty"`
	Approval *Approval `json:"approval,omitempty"`
	Notify   *Notify   `json:"notify,omitempty"`
}

// Kind is what a step does.
type Kind string

const (
	KindRun      Kind = "run"
	KindDeploy   Kind = "deploy"
	KindApproval Kind = "approval"
	KindNotify   Kind = "notify"
)

// Kind says which of run, deploy, approval and notify the step is; for a
// step that sets none or several (which Parse refuses) it is "".
func (s *Step) Kind() Kind {
	var k Kind
	n := 0
	if s.Run != "" {
		k, n = KindRun, n+1
	}
	if s.Deploy != nil {
		k, n = KindDeploy, n+1
	}
	if s.Approval != nil {
		k, n = KindApproval, n+1
	}
	if s.Notify != nil {
		k, n = KindNotify, n+1
	}
	if n != 1 {
		return ""
	}
	return k
}

// When limits the runs a step applies to. Every list that is set must match
// (branches and tags together count as one condition on the ref); an unset
// list matches everything.
type When struct {
	// Branches and Tags are glob patterns over the branch or tag name.
	Branches []string `json:"branches,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	Events   []Event  `json:"events,omitempty"`
	// Paths are glob patterns over the paths the run changed; a pattern
	// starting with "!" excludes. Monorepos use it to build only what moved.
	Paths []string `json:"paths,omitempty"`
}

// Cache is a set of paths saved after a successful step under Key and
// restored before the step in later runs that compute the same key.
type Cache struct {
	// Key may hold {{ hash "file" }}, replaced by a digest of that file of
	// the checkout, so a cache follows a lock file.
	Key   string   `json:"key"`
	Paths []string `json:"paths"`
}

// Deploy releases the pipeline's app (or App) to an environment.
type Deploy struct {
	App string `json:"app,omitempty"`
	Env string `json:"env"`
}

// Approval waits until Count people approve: holders of Role in the team,
// or the listed Users. It fails when Timeout passes first.
type Approval struct {
	Role    string        `json:"role,omitempty"`
	Users   []string      `json:"users,omitempty"`
	Count   int           `json:"count,omitempty"`
	Timeout spec.Duration `json:"timeout,omitempty"`
}

// Notify posts the run's outcome to URL when the run ends in one of On.
type Notify struct {
	URL string   `json:"url"`
	On  []string `json:"on,omitempty"`
}

// Outcomes a notify step can be asked to report.
const (
	OnSuccess = "success"
	OnFailure = "failure"
)
