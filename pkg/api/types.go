// Package api holds the JSON shapes of Berth's HTTP API (/api/v1). The server
// and pkg/client both use them, so they are the contract.
package api

import (
	"encoding/json"
	"time"
)

// Error is the one error shape every failing call answers with:
// {"error": {"code": ..., "message": ..., "details": [...]}}.
type Error struct {
	Code      string       `json:"code"` // e.g. invalid_spec, not_found, unauthorized
	Message   string       `json:"message"`
	Details   []FieldError `json:"details,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
}

// ErrorBody wraps Error on the wire.
type ErrorBody struct {
	Error Error `json:"error"`
}

// FieldError is one problem with one field of an input.
type FieldError struct {
	Field   string `json:"field"` // path, e.g. services.api.ports[0].port
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"` // in the YAML, where known
}

// Error codes.
const (
	CodeInvalid      = "invalid"      // 422: the spec or body fails validation
	CodeBadRequest   = "bad_request"  // 400: malformed body
	CodeUnauthorized = "unauthorized" // 401
	CodeForbidden    = "forbidden"    // 403: a member whose role or token scope lacks the permission
	CodeNotFound     = "not_found"    // 404
	CodeConflict     = "conflict"     // 409
	CodeGone         = "gone"         // 410: it was there and was removed (expired artifacts)
	CodeTooLarge     = "too_large"    // 413
	CodeInternal     = "internal"     // 500
	// CodeMethodNotAllowed answers a known path called with the wrong method (405).
	CodeMethodNotAllowed = "method_not_allowed"
	// CodeUnavailable means a part the call needs is not running (503).
	CodeUnavailable = "unavailable"
	// CodeTooManyRequests answers a throttled login (429, with Retry-After).
	CodeTooManyRequests = "too_many_requests"
)

// ApplyRequest creates a release of an app from a spec. Spec is the
// berth.yaml as YAML or JSON text; Source is the digest of a source archive
// uploaded before with PUT /api/v1/blobs/{digest} ("" when the app has no
// build step and needs no files).
type ApplyRequest struct {
	Spec   string `json:"spec"`
	Source string `json:"source,omitempty"`
	// Team (name) owns a new app; "" means the caller's only team. An
	// existing app stays in its team.
	Team string `json:"team,omitempty"`
	// Env is the environment to run a new app in ("" for the server's
	// local runtime); an existing app must be applied to its own.
	Env string `json:"env,omitempty"`
}

// ApplyResponse says which release the apply produced.
type ApplyResponse struct {
	App     string `json:"app"`
	Release int    `json:"release"`
	// Created is false when the spec and source equal the current release's.
	Created bool `json:"created"`
	// KeepsInstancesOf is set when the new release changed only what
	// pipeline runs read (berth.yaml's pipeline or source section): the
	// running instances of that release stay, nothing restarts.
	KeepsInstancesOf int `json:"keeps_instances_of,omitempty"`
	// Revision is the change log's revision right after the apply: a
	// follower of the release watches from it instead of replaying history.
	Revision int64 `json:"revision,omitempty"`
}

// RollbackRequest redeploys an earlier release as a new release.
type RollbackRequest struct {
	To int `json:"to,omitempty"` // 0: the release before the current one
}

// RolloutRequest starts a canary of the app's target release beside the
// serving release (Canary: its traffic weight in percent), or moves the
// running canary to another weight (Weight). Exactly one is set.
type RolloutRequest struct {
	Canary *int `json:"canary,omitempty"`
	Weight *int `json:"weight,omitempty"`
}

// RolloutResponse says what a rollout, promote or abort call changed.
type RolloutResponse struct {
	App    string `json:"app"`
	Action string `json:"action"` // canary | weight | promote | abort
	// Release is the canary release, Stable the serving one beside it.
	Release int `json:"release"`
	Stable  int `json:"stable,omitempty"`
	Weight  int `json:"weight"`
	// Revision is the change log's revision right after the call, to
	// watch the app from.
	Revision int64 `json:"revision,omitempty"`
}

// Rollout actions, in RolloutResponse.Action and app.rollout events.
const (
	RolloutCanary  = "canary"
	RolloutWeight  = "weight"
	RolloutPromote = "promote"
	RolloutAbort   = "abort"
)

// CanaryStatus is a running canary release, in AppStatus.
type CanaryStatus struct {
	// Release is the canary release; Stable the serving release beside it.
	Release int `json:"release"`
	Stable  int `json:"stable"`
	// Weight is the canary's share of the traffic, in percent.
	Weight int `json:"weight"`
	// Step is the current step of the release's strategy, counting from
	// 1, of Steps; 0 when the canary is moved by hand.
	Step  int `json:"step"`
	Steps int `json:"steps"`
	// NextStepAt is when the next step (or the promotion, after the last
	// step) is due, once the canary's instances are ready; unset while
	// the step waits for a hand (berth rollout --weight, promote, abort).
	NextStepAt time.Time `json:"next_step_at,omitzero"`
	// Ready: every instance the canary runs at this weight (all of them,
	// while promoting) is ready.
	Ready bool `json:"ready"`
	// Manual: the canary was started or moved by hand and only moves by
	// hand. Promoting: it is being rolled to full replicas.
	Manual    bool `json:"manual,omitempty"`
	Promoting bool `json:"promoting,omitempty"`
}

// Condition states one aspect of an app or service (Kubernetes-style).
type Condition struct {
	Type               string    `json:"type"`   // Progressing | Available | Degraded | Failed
	Status             string    `json:"status"` // True | False | Unknown
	Reason             string    `json:"reason,omitempty"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"last_transition_time"`
}

// Condition types.
const (
	ConditionProgressing = "Progressing"
	ConditionAvailable   = "Available"
	ConditionDegraded    = "Degraded"
	ConditionFailed      = "Failed"
)

// Exit is how an instance's process last ended.
type Exit struct {
	Code    int       `json:"code"`
	Signal  string    `json:"signal,omitempty"`
	At      time.Time `json:"at"`
	LogTail []string  `json:"log_tail,omitempty"`
}

// Instance is one running copy of a service.
type Instance struct {
	ID        string    `json:"id"`
	Release   int       `json:"release"`
	State     string    `json:"state"`
	Ready     bool      `json:"ready"`
	PID       int       `json:"pid,omitempty"`
	Port      int       `json:"port,omitempty"`
	Host      string    `json:"host,omitempty"`
	Restarts  int       `json:"restarts"`
	StartedAt time.Time `json:"started_at,omitempty"`
	LastExit  *Exit     `json:"last_exit,omitempty"`
	Message   string    `json:"message,omitempty"`
}

// ServiceStatus is the observed state of one service of an app.
type ServiceStatus struct {
	Name    string `json:"name"`
	Desired int    `json:"desired"`
	Ready   int    `json:"ready"`
	Release int    `json:"release"`           // the release its ready instances run
	Address string `json:"address,omitempty"` // stable address other services use
	Limits  string `json:"limits,omitempty"`
	// Autoscale says who scales an autoscaled service ("" when it is
	// not): a HorizontalPodAutoscaler on clusters; the local runtime runs
	// autoscale.min instances and says so.
	Autoscale  string      `json:"autoscale,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	Instances  []Instance  `json:"instances"`
}

// AppStatus is the observed state of an app, written by the reconciler.
type AppStatus struct {
	// Release is the release being rolled out or running; Serving is the
	// release that takes traffic now (they differ during a rollout, and
	// after a failed one).
	Release    int             `json:"release"`
	Serving    int             `json:"serving"`
	Phase      string          `json:"phase"` // Pending | Progressing | Running | Degraded | Failed | Deleting
	Message    string          `json:"message,omitempty"`
	Conditions []Condition     `json:"conditions,omitempty"`
	Services   []ServiceStatus `json:"services,omitempty"`
	// Canary is set while a canary release runs beside the serving one.
	Canary     *CanaryStatus `json:"canary,omitempty"`
	ObservedAt time.Time     `json:"observed_at,omitempty"`
}

// App phases.
const (
	PhasePending     = "Pending"
	PhaseProgressing = "Progressing"
	PhaseRunning     = "Running"
	PhaseDegraded    = "Degraded"
	PhaseFailed      = "Failed"
	PhaseDeleting    = "Deleting"
)

// App is an app with its current state.
type App struct {
	Name string `json:"name"`
	// Team is the name of the team that owns the app.
	Team          string    `json:"team,omitempty"`
	LatestRelease int       `json:"latest_release"`
	TargetRelease int       `json:"target_release"`
	Status        AppStatus `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// Env is the environment the app runs in; "" for the server's own
	// (local) runtime.
	Env string `json:"env,omitempty"`
}

// Release states.
const (
	ReleasePending     = "pending"     // created, not yet being rolled out
	ReleaseProgressing = "progressing" // being built or rolled out
	ReleaseDeployed    = "deployed"    // healthy and serving
	ReleaseFailed      = "failed"      // never became healthy; see Reason/Message
	ReleaseSuperseded  = "superseded"  // was deployed, replaced by a newer one
)

// ReasonAborted is the Reason of a canary release ended by abort.
const ReasonAborted = "Aborted"

// Artifact is what a release resolved for one service: its build output
// (local) or image digest (clusters).
type Artifact struct {
	BuildKey string `json:"build_key,omitempty"`
	Dir      string `json:"dir,omitempty"`
	Image    string `json:"image,omitempty"`
}

// Release is an immutable, numbered revision of an app.
type Release struct {
	App        string              `json:"app"`
	Number     int                 `json:"number"`
	Spec       json.RawMessage     `json:"spec"` // the spec with defaults, as JSON
	SpecHash   string              `json:"spec_hash"`
	Source     string              `json:"source,omitempty"`
	Artifacts  map[string]Artifact `json:"artifacts,omitempty"`
	Cause      string              `json:"cause"` // apply | rollback
	RollbackOf int                 `json:"rollback_of,omitempty"`
	State      string              `json:"state"`
	Reason     string              `json:"reason,omitempty"`
	Message    string              `json:"message,omitempty"`
	CreatedAt  time.Time           `json:"created_at"`
	// Config is the config set and secret versions the release runs with.
	Config *ReleaseConfig `json:"config,omitempty"`
}

// DiffResponse is the difference between two releases' specs.
type DiffResponse struct {
	App  string `json:"app"`
	From int    `json:"from"`
	To   int    `json:"to"`
	// Diff is a unified diff of the two specs as YAML.
	Diff string `json:"diff"`
}

// Event is one change, as streamed by GET /api/v1/watch. Revisions increase
// by one per change, so a follower resumes with ?since=<last revision>.
type Event struct {
	Revision int64           `json:"revision"`
	Kind     string          `json:"kind"` // app.applied, app.status, app.deleted, release.updated, app.rollout
	App      string          `json:"app"`
	Release  int             `json:"release,omitempty"`
	Time     time.Time       `json:"time"`
	Data     json.RawMessage `json:"data,omitempty"`
}

// Event kinds.
const (
	EventAppApplied     = "app.applied"
	EventAppStatus      = "app.status"
	EventAppDeleted     = "app.deleted"
	EventReleaseUpdated = "release.updated"
	// EventAppRollout records a canary started, moved, promoted or aborted
	// by hand; Data is the RolloutResponse.
	EventAppRollout = "app.rollout"
)

// Version is the server's build information.
type Version struct {
	Version   string `json:"version"`
	Commit    string `json:"commit,omitempty"`
	GoVersion string `json:"go_version"`
}
