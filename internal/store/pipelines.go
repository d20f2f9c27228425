package store

import (
	"context"
	"encoding/json"
	"time"
)

// Run states. A run is queued until the run driver takes it, running until
// every step ended, then one of the three end states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// RunTerminal reports whether a run in state s has ended.
func RunTerminal(s string) bool {
	return s == RunSucceeded || s == RunFailed || s == RunCancelled
}

// Run is one run of an app's pipeline. Steps is rewritten as the run
// proceeds; Ref and Commit are set when a run created with only a branch
// starts (the branch is resolved then); everything else but State, Reason,
// ExitCode, CancelRequested and the times is fixed at creation.
type Run struct {
	ID string
	// App and Team: the app whose pipeline runs, and the app's team at the
	// time the run was created (authorization checks this team).
	App    string
	Team   string
	Number int // per app, from 1
	// Trigger is what started the run: push, tag, pull_request, manual,
	// schedule.
	Trigger string
	Ref     string
	Commit  string
	// Before is the commit the push replaced (for changed paths), "" if
	// unknown.
	Before string
	Params map[string]string
	// Detail holds the trigger's particulars as JSON (delivery ID, sender,
	// changed paths, fork flag); the driver reads it back.
	Detail json.RawMessage
	// RerunOf is the ID of the run this one repeats, "" if none.
	RerunOf string
	// CreatedBy is the subject (token or user ID) or forge that started it.
	CreatedBy string
	State     string
	Reason    string
	ExitCode  int
	// CancelRequested is set by a cancel request; the driver that owns the
	// run stops it (and a driver that finds it on a queued run cancels it).
	CancelRequested bool
	Steps           []RunStep
	Version         int64
	CreatedAt       time.Time
	StartedAt       time.Time
	FinishedAt      time.Time
	UpdatedAt       time.Time
}

// RunStep is one step's status within a run.
type RunStep struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Status string `json:"status"`
	// Attempt counts from 1; 0 before the first start.
	Attempt    int       `json:"attempt"`
	ExitCode   int       `json:"exit_code"`
	Reason     string    `json:"reason,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// Artifacts is the archive of the files the step kept, set once the
	// step succeeded and its archive is in the blob store; nil if none.
	Artifacts *StepArtifacts `json:"artifacts,omitempty"`
	// UploadToken is "sha256:<hex>" of the token the step's current
	// attempt sends its artifacts with from a cluster pod (see the step
	// agent); valid while the step runs. Never shown by the API.
	UploadToken string `json:"upload_token,omitempty"`
	// Cache is what happened to the step's cache, nil for a step without
	// one (or before its attempt got that far).
	Cache *StepCache `json:"cache,omitempty"`
}

// StepCache records a step's cache: the key as the server expanded it,
// whether it was restored (a hit) and whether this step saved it. On a
// cluster the key is set when the attempt starts and Hit and Saved by the
// step agent's requests, which can only reach that key.
type StepCache struct {
	Key   string `json:"key"`
	Hit   bool   `json:"hit,omitempty"`
	Saved bool   `json:"saved,omitempty"`
}

// StepArtifacts records a step's artifact archive: a tar.gz in the blob
// store under Digest. It lives in the run's steps (JSON), so no column
// holds it.
type StepArtifacts struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"` // the archive's bytes
	// Count is how many files it holds; Files names at most
	// MaxListedArtifacts of them (sorted), so a step that keeps a huge
	// tree does not bloat its run.
	Count int      `json:"count"`
	Files []string `json:"files"`
	// Bytes is the files' content, uncompressed.
	Bytes int64 `json:"bytes"`
	// ExpiredAt is when artifact retention removed the archive: Digest
	// and Files are then empty (the blob is no longer referred to, and
	// garbage collection deletes it), Count, Size and Bytes say what was
	// kept. Zero while the archive is kept.
	ExpiredAt time.Time `json:"expired_at,omitzero"`
}

// Kept reports whether a's archive is still kept (not expired).
func (a *StepArtifacts) Kept() bool { return a != nil && a.Digest != "" }

// KeptArtifacts returns the digests of the archives steps still keep:
// the blobs a run refers to, for garbage collection and backups alike.
func KeptArtifacts(steps []RunStep) []string {
	var out []string
	for _, s := range steps {
		if s.Artifacts.Kept() {
			out = append(out, s.Artifacts.Digest)
		}
	}
	return out
}

// MaxListedArtifacts caps StepArtifacts.Files.
const MaxListedArtifacts = 1000

// RunFilter selects runs for ListRuns; zero fields match everything.
type RunFilter struct {
	App    string
	States []string
	// Teams, when not nil, keeps only the runs of these teams (by ID); an
	// empty, non-nil slice matches none. Filtering here, before Limit, is
	// what lets a member of some teams get a full page of their runs.
	Teams []string
	// Limit caps how many runs come back (newest first); 0 means no cap.
	Limit int
}

// Approval is one person's decision on an approval step.
type Approval struct {
	Run  string
	Step string
	// Who is the deciding principal's subject (user or token ID).
	Who      string
	Decision string // approve | reject
	Comment  string
	Time     time.Time
}

// Approval decisions.
const (
	DecisionApprove = "approve"
	DecisionReject  = "reject"
)

// PipelineState is what the server remembers of an app's pipeline between
// runs: the last pipeline file it read (for `pipeline show` and the cron
// schedule) and when the schedule last fired.
type PipelineState struct {
	App  string
	Team string
	// Definition is the parsed pipeline as JSON, read at Commit.
	Definition json.RawMessage
	Commit     string
	// Schedule is the definition's cron expression, "" if none.
	Schedule string
	// LastScheduled is the last time the schedule fired (zero: never), so a
	// restarted server neither fires twice nor forgets a due run.
	LastScheduled time.Time
	UpdatedAt     time.Time
}

// Runs stores pipeline runs.
type Runs interface {
	// CreateRun stores r; ErrExists if its ID or (App, Number) is taken,
	// ErrNotFound if the app does not exist.
	CreateRun(ctx context.Context, r Run) error
	GetRun(ctx context.Context, id string) (Run, error)
	// ListRuns returns the runs f selects, newest first (by creation, then
	// number).
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	// UpdateRun writes the mutable fields (Ref, Commit, State, Reason,
	// ExitCode, CancelRequested, Steps, StartedAt, FinishedAt, UpdatedAt) when
	// r.Version matches, and bumps it; otherwise ErrConflict (ErrNotFound if
	// missing). It returns the new version.
	UpdateRun(ctx context.Context, r Run) (int64, error)
	// LastRunNumber is the highest run number of app, 0 if none.
	LastRunNumber(ctx context.Context, app string) (int, error)
}

// Approvals stores decisions on approval steps.
type Approvals interface {
	// CreateApproval stores a; ErrExists if a.Who already decided on that
	// step of that run, ErrNotFound if the run does not exist.
	CreateApproval(ctx context.Context, a Approval) error
	// ListApprovals returns a run's decisions in the order made.
	ListApprovals(ctx context.Context, run string) ([]Approval, error)
}

// Deliveries records webhook delivery IDs, so a replayed delivery is
// refused also after a restart.
type Deliveries interface {
	// RecordDelivery stores id and reports whether it was stored before;
	// two concurrent calls with one id: exactly one answers false.
	RecordDelivery(ctx context.Context, id string, at time.Time) (seen bool, err error)
	// PruneDeliveries forgets IDs recorded before t and returns how many.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// Pipelines stores the per-app pipeline state.
type Pipelines interface {
	// PutPipeline creates or replaces the app's state; ErrNotFound if the
	// app does not exist.
	PutPipeline(ctx context.Context, p PipelineState) error
	GetPipeline(ctx context.Context, app string) (PipelineState, error)
	ListPipelines(ctx context.Context) ([]PipelineState, error) // by app
}

// PipelineCache is one saved cache of an app's pipeline steps: a tar.gz
// in the blob store under Digest, found by the step's expanded key. A
// cache is never updated in place (a new key makes a new cache); only
// LastUsedAt moves, so that caches nobody restores can be removed.
type PipelineCache struct {
	App    string
	Key    string
	Digest string
	Size   int64 // the archive's bytes
	// CreatedAt is when it was saved; LastUsedAt when it was last
	// restored (CreatedAt until then).
	CreatedAt  time.Time
	LastUsedAt time.Time
}

// PipelineCaches indexes the caches of steps that run away from the
// server (on a cluster); the archives themselves are blobs.
type PipelineCaches interface {
	// GetPipelineCache returns the cache of app's key; ErrNotFound if none.
	GetPipelineCache(ctx context.Context, app, key string) (PipelineCache, error)
	// CreatePipelineCache stores c unless app already has a cache of that
	// key: the first save wins, and created says whether this one did.
	// ErrNotFound if the app does not exist.
	CreatePipelineCache(ctx context.Context, c PipelineCache) (created bool, err error)
	// TouchPipelineCache sets LastUsedAt of app's key to at (never
	// backwards); ErrNotFound if there is no such cache.
	TouchPipelineCache(ctx context.Context, app, key string, at time.Time) error
	// DeletePipelineCache removes app's key if it still names digest;
	// ErrNotFound if missing or since saved anew with other content (a
	// restore that found digest's archive gone must not forget a cache
	// another run saved after the row it read was evicted).
	DeletePipelineCache(ctx context.Context, app, key, digest string) error
	// PrunePipelineCaches removes the caches last used before t and
	// returns them (their blobs are left for the blob collector).
	PrunePipelineCaches(ctx context.Context, before time.Time) ([]PipelineCache, error)
	// PipelineCacheDigests lists the blobs the stored caches name,
	// sorted, each once: a blob collector counts them as referenced.
	PipelineCacheDigests(ctx context.Context) ([]string, error)
}
