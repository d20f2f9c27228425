// Package local runs pipeline steps as processes on the server's machine.
//
// Each step is `sh -c script` in its own process group, with a clean
// environment, in the run's workspace. When the server runs as root, steps
// run as an unprivileged user (nobody by default) that owns the workspace,
// so they cannot read the server's data directory. When it does not, steps
// run as the server's own user and CAN read whatever it can: run the
// server as root, or give pipelines their own machine, where steps are
// untrusted.
package local

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// Defaults for Options.
const (
	DefaultPath             = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	DefaultLang             = "C.UTF-8"
	DefaultKillGrace        = 5 * time.Second
	DefaultMaxArtifactBytes = 1 << 30
	DefaultMaxCacheBytes    = 2 << 30
)

// Options configure an Executor; the zero value is usable.
type Options struct {
	Logger *slog.Logger
	// User is who steps run as when the server is root: a user name or
	// "uid:gid". Empty means nobody (uid 65534 when /etc/passwd lacks it).
	// Steps of concurrent runs share this user; give it no other files.
	User string
	// Shell runs the script; default /bin/sh.
	Shell string
	// Path and Lang are the steps' PATH and LANG.
	Path, Lang string
	// KillGrace is how long a step has between SIGTERM and SIGKILL when it
	// times out or is cancelled.
	KillGrace time.Duration
	// MaxArtifactBytes and MaxCacheBytes cap what one step may copy out of
	// its workspace, so a step cannot fill the server's disk.
	MaxArtifactBytes, MaxCacheBytes int64
}

// Executor runs steps as local processes. It is safe for concurrent use.
type Executor struct {
	log  *slog.Logger
	opts Options
	// cred is the step user, or nil when steps run as the server's user.
	cred *ids
}

var _ executor.Executor = (*Executor)(nil)

// New checks the options and picks the step user.
func New(ctx context.Context, o Options) (*Executor, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Shell == "" {
		o.Shell = "/bin/sh"
	}
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if o.Lang == "" {
		o.Lang = DefaultLang
	}
	if o.KillGrace <= 0 {
		o.KillGrace = DefaultKillGrace
	}
	if o.MaxArtifactBytes <= 0 {
		o.MaxArtifactBytes = DefaultMaxArtifactBytes
	}
	if o.MaxCacheBytes <= 0 {
		o.MaxCacheBytes = DefaultMaxCacheBytes
	}
	if _, err := os.Stat(o.Shell); err != nil {
		return nil, fmt.Errorf("local executor: shell: %w", err)
	}
	e := &Executor{log: o.Logger, opts: o}
	if os.Geteuid() == 0 {
		c, err := lookupUser(o.User)
		if err != nil {
			return nil, fmt.Errorf("local executor: step user: %w", err)
		}
		if c.uid == 0 {
			return nil, fmt.Errorf("local executor: step user %q is root; steps must not run as root", o.User)
		}
		e.cred = &c
		o.Logger.InfoContext(ctx, "pipeline steps run as an unprivileged user", "uid", c.uid, "gid", c.gid)
	} else {
		o.Logger.WarnContext(ctx, "the server is not root, so pipeline steps run as its own user and can read its data directory", "uid", os.Geteuid())
	}
	return e, nil
}

// Unprivileged reports whether steps run as a user other than the server's.
func (e *Executor) Unprivileged() bool { return e.cred != nil }

// env is the whole environment of a step: nothing from the server's.
func (e *Executor) env(s executor.StepSpec) []string {
	vars := map[string]string{"PATH": e.opts.Path, "HOME": s.Workspace.Home, "LANG": e.opts.Lang}
	for k, v := range s.Env {
		vars[k] = v
	}
	for k, v := range s.Secrets {
		vars[k] = v
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			continue // the kernel would refuse or misread them
		}
		out = append(out, k+"="+v)
	}
	return out
}

// note writes a line of the executor's own to the step's log.
func note(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "[berth] "+format+"\n", args...)
}
