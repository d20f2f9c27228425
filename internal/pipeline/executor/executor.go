// Package executor is the boundary between a pipeline run and where its
// steps execute. One small interface, with sibling packages for each place:
// local (processes on the server's machine) now, kubernetes (pods) later.
package executor

import (
	"context"
	"io"
	"path/filepath"
	"time"
)

// Executor runs one step of a run. A step that ran and exited non-zero is
// a Result with that ExitCode and a nil error; the error is for failures to
// run it at all (no shell, workspace not writable...).
type Executor interface {
	Run(ctx context.Context, s StepSpec, out io.Writer) (Result, error)
}

// StepSpec is everything an executor needs to run one run-step.
type StepSpec struct {
	RunID string
	Name  string
	// Script is run as `sh -c Script` in Workspace.Src.
	Script string
	// Image is for container executors; the local executor ignores it.
	Image string
	// Env holds the step's variables: pipeline params and the step's env,
	// merged by the caller. Nothing of the server's environment is added.
	Env map[string]string
	// Secrets holds only the secrets the step asked for, by name; they are
	// set as variables of the same name. Mask them in out yourself (see
	// package mask); the executor does not see the log.
	Secrets   map[string]string
	Timeout   time.Duration // 0 means none
	Workspace Workspace
	// Artifacts are paths or globs inside Workspace.Src copied to
	// ArtifactDir after the step succeeds.
	Artifacts   []string
	ArtifactDir string
	// Upload is where a step that runs away from the server (a pod) sends
	// its artifacts; nil where the executor copies them itself.
	Upload *Upload
	Cache  *CacheSpec
}

// Upload is the address and credential a step's agent sends the step's
// artifact archive with: PUT URL, the token in the artifact.TokenHeader
// header. The token is valid for that run and step only, while the step
// runs: executors keep it out of anything others can read (pod specs).
type Upload struct {
	URL   string
	Token string
}

// CacheSpec says what to restore before a step and save after it succeeds.
type CacheSpec struct {
	// Key is the pipeline's cache key, {{ hash "file" }} not yet expanded
	// — or, with URL set, the key the server expanded (the step's agent
	// only shows it: the server decides which cache the URL reaches).
	Key string
	// Paths are inside Workspace.Src, or inside Workspace.Home as "~/...".
	Paths []string
	// Dir holds the caches of one pipeline, one folder per key. Give each
	// pipeline its own, so one team's step cannot plant files in another's.
	Dir string
	// URL is where a step away from the server restores (GET) and saves
	// (PUT) its cache, with Upload's token; "" where the executor copies
	// caches itself (Dir).
	URL string
}

// Result is how a step ended.
type Result struct {
	ExitCode  int
	TimedOut  bool
	Cancelled bool
	Started   time.Time
	Finished  time.Time
	// Artifacts lists the files copied, relative to ArtifactDir.
	Artifacts []string
	// CacheKey is the expanded key; CacheHit says it was restored and
	// CacheSaved that this step saved it.
	CacheKey   string
	CacheHit   bool
	CacheSaved bool
}

// Workspace is the layout of one run's folder, shared by its steps.
type Workspace struct {
	Root string
	// Src holds the checkout; steps run in it.
	Src string
	// Home is the steps' HOME, so tools' caches and configs stay inside
	// the run and never touch the server's home.
	Home string
}

// Layout returns the Workspace for the run folder dir.
func Layout(dir string) Workspace {
	return Workspace{Root: dir, Src: filepath.Join(dir, "src"), Home: filepath.Join(dir, "home")}
}
