package api

import (
	"encoding/json"
	"time"
)

// Run states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Pipeline is an app's pipeline as the server knows it.
type Pipeline struct {
	App  string `json:"app"`
	Team string `json:"team,omitempty"`
	// Git and Branch come from the app's berth.yaml (source).
	Git    string `json:"git"`
	Branch string `json:"branch"`
	// File is the pipeline file's path in the repository (source.pipeline,
	// default .berth/pipeline.yaml).
	File string `json:"file"`
	// Status is the forge runs report commit status to (source.status:
	// github, gitea or gitlab); "" reports none.
	Status string `json:"status,omitempty"`
	// Executor is where the steps of the definition last read run: "local"
	// (the server's machine) or the environment executor.env names; ""
	// before the first run.
	Executor string `json:"executor,omitempty"`
	// Schedule is the cron expression of the pipeline file last read.
	Schedule string `json:"schedule,omitempty"`
	// Commit is where Definition was read, "" before the first run.
	Commit     string          `json:"commit,omitempty"`
	Definition json.RawMessage `json:"definition,omitempty"`
	// Hooks are the webhook paths per forge (github, gitea, gitlab).
	Hooks map[string]string `json:"hooks,omitempty"`
	// HookSecret is given only to callers who may run the pipeline.
	HookSecret string `json:"hook_secret,omitempty"`
	LastRun    *Run   `json:"last_run,omitempty"`
}

// RunRequest starts a manual run.
type RunRequest struct {
	// Ref is a branch or tag; "" means the app's source branch.
	Ref    string            `json:"ref,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// DecisionRequest approves or rejects a run's waiting approval step.
type DecisionRequest struct {
	Comment string `json:"comment,omitempty"`
}

// Run is one run of an app's pipeline.
type Run struct {
	ID      string            `json:"id"`
	App     string            `json:"app"`
	Team    string            `json:"team,omitempty"`
	Number  int               `json:"number"`
	Trigger string            `json:"trigger"`
	Ref     string            `json:"ref"`
	Commit  string            `json:"commit,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	RerunOf string            `json:"rerun_of,omitempty"`
	// SpecRelease is the app's release whose spec the run uses (source,
	// and the pipeline section if berth.yaml has one); a rerun keeps it.
	SpecRelease int    `json:"spec_release,omitempty"`
	By          string `json:"by,omitempty"`
	State       string `json:"state"`
	Reason      string `json:"reason,omitempty"`
	// ExitCode is the exit code of the first step that failed.
	ExitCode        int        `json:"exit_code"`
	CancelRequested bool       `json:"cancel_requested,omitempty"`
	Steps           []RunStep  `json:"steps"`
	Approvals       []Approval `json:"approvals,omitempty"`
	CreatedAt       time.Time  `json:"created_at"`
	StartedAt       time.Time  `json:"started_at,omitzero"`
	FinishedAt      time.Time  `json:"finished_at,omitzero"`
}

// RunStep is one step of a run.
type RunStep struct {
	Name string `json:"name"`
	// Kind is run, deploy, approval or notify.
	Kind string `json:"kind"`
	// Status is pending, running, success, failure, skipped or cancelled.
	Status     string    `json:"status"`
	Attempt    int       `json:"attempt"`
	ExitCode   int       `json:"exit_code"`
	Reason     string    `json:"reason,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Artifacts is the archive of the files the step kept (artifacts:),
	// once it succeeded; download it from
	// /api/v1/runs/{run}/artifacts/{step}.
	Artifacts *StepArtifacts `json:"artifacts,omitempty"`
	// Cache says what became of the step's cache (cache:): the key as
	// the server expanded it, whether it was restored (hit) and whether
	// this step saved it.
	Cache *StepCache `json:"cache,omitempty"`
}

// StepCache is what became of one step's cache.
type StepCache struct {
	Key   string `json:"key"`
	Hit   bool   `json:"hit"`
	Saved bool   `json:"saved"`
}

// CacheSave answers a step agent's save of its step's cache: Saved is
// false when the key already had a cache (the first save wins; nothing
// was stored).
type CacheSave struct {
	Key    string `json:"key"`
	Saved  bool   `json:"saved"`
	Digest string `json:"digest,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// StepArtifacts describes one step's artifact archive, a tar.gz.
type StepArtifacts struct {
	Step   string `json:"step"`
	Digest string `json:"digest"` // sha256 of the archive
	Size   int64  `json:"size"`   // the archive's bytes
	// Count is the number of files; Files names at most 1000 of them.
	Count int      `json:"count"`
	Files []string `json:"files"`
	// Bytes is the files' content, uncompressed.
	Bytes int64 `json:"bytes"`
	// ExpiredAt is when the server's artifact retention removed the
	// archive (Digest and Files are then empty, and downloading it
	// answers 410); absent while it is kept.
	ExpiredAt time.Time `json:"expired_at,omitzero"`
}

// Approval is one decision on an approval step.
type Approval struct {
	Step     string    `json:"step"`
	Who      string    `json:"who"`
	Decision string    `json:"decision"` // approve | reject
	Comment  string    `json:"comment,omitempty"`
	Time     time.Time `json:"time"`
}
