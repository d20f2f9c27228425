// Package build turns a release's source archive and a service's build
// command into a directory the service runs in. Builds are content-addressed:
// the same source, folder and command give the same key, and a finished
// build is reused at once, by every release and app that asks for it.
package build

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/berthdev/berth/internal/blob"
)

// Defaults for the archive caps.
const (
	DefaultMaxSourceBytes = 4 << 30 // 4 GiB unpacked
	DefaultMaxSourceFiles = 200_000
)

// Request asks for one service's workspace.
type Request struct {
	App     string
	Service string
	// Source is the digest of the app's tar.gz source archive, "" if none.
	Source string
	// Dir is the service's folder relative to the app root ("" = the root).
	Dir string
	// Command is a shell command run in Dir; "" runs nothing.
	Command string
	// Env is added to the command's environment.
	Env map[string]string
}

// Result is a finished build.
type Result struct {
	Key string
	// Dir is the absolute folder the service runs in.
	Dir string
	// Log is the tail of the build output.
	Log string
}

// Builder runs builds under one folder:
//
//	<dir>/<key>/src        the unpacked source, where the command ran
//	<dir>/<key>/build.log  the command's output
//	<dir>/<key>/done       written last: the build is complete
//	<dir>/empty/<app>      the workspace of services with nothing to build
type Builder struct {
	dir    string
	blobs  blob.Store
	logger *slog.Logger
	limits limits
	locks  keyLocks
}

// New returns a Builder keeping its workspaces under dir (created).
func New(dir string, blobs blob.Store, logger *slog.Logger) (*Builder, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("build: create %s: %w", abs, err)
	}
	return &Builder{
		dir:    abs,
		blobs:  blobs,
		logger: logger,
		limits: limits{maxBytes: DefaultMaxSourceBytes, maxFiles: DefaultMaxSourceFiles},
	}, nil
}

// SetLimits changes the caps on what one source archive may unpack to.
func (b *Builder) SetLimits(maxBytes int64, maxFiles int) {
	b.limits = limits{maxBytes: maxBytes, maxFiles: maxFiles}
}

// Key is the content address of a build: the source digest, the service
// folder and the command, length-prefixed so no two inputs collide.
func Key(source, dir, command string) string {
	h := sha256.New()
	for _, s := range []string{source, dir, command} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Build returns the workspace for req, building it unless a completed build
// with the same key exists. A failing command gives a *BuildError; ctx
// ending kills the command and returns ctx's error.
func (b *Builder) Build(ctx context.Context, req Request) (Result, error) {
	dir, err := validate(req)
	if err != nil {
		return Result{}, err
	}
	if req.Source == "" && req.Command == "" {
		d := filepath.Join(b.dir, "empty", req.App)
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Result{}, fmt.Errorf("build: %w", err)
		}
		return Result{Dir: d}, nil
	}
	key := Key(req.Source, dir, req.Command)
	unlock, err := b.locks.lock(ctx, key)
	if err != nil {
		return Result{}, fmt.Errorf("build: wait for build %s: %w", key[:12], err)
	}
	defer unlock()

	ws := filepath.Join(b.dir, key)
	res := Result{Key: key, Dir: filepath.Join(ws, "src", filepath.FromSlash(dir))}
	if _, err := os.Stat(filepath.Join(ws, "done")); err == nil {
		res.Log = strings.Join(logTail(filepath.Join(ws, "build.log"), tailLines), "\n")
		return res, nil
	}
	log := b.logger.With("app", req.App, "service", req.Service, "key", key[:12])
	log.Info("build started", "source", req.Source, "command", req.Command)

	// The build runs in place, under the per-key lock, rather than in a
	// temporary folder renamed at the end: outputs such as Python venvs or
	// generated scripts record absolute paths, which a rename would break.
	// The "done" marker, written last, is what makes a build visible.
	if err := os.RemoveAll(ws); err != nil { // an earlier, unfinished attempt
		return Result{}, fmt.Errorf("build: clean %s: %w", ws, err)
	}
	src := filepath.Join(ws, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return Result{}, fmt.Errorf("build: %w", err)
	}
	if req.Source != "" {
		if err := b.unpack(ctx, req.Source, src); err != nil {
			return Result{}, err
		}
	}
	if fi, err := os.Stat(res.Dir); err != nil || !fi.IsDir() {
		if req.Source != "" {
			return Result{}, fmt.Errorf("%w: dir: %q is not a folder in the source archive", ErrInvalidRequest, dir)
		}
		if err := os.MkdirAll(res.Dir, 0o755); err != nil {
			return Result{}, fmt.Errorf("build: %w", err)
		}
	}
	logPath := filepath.Join(ws, "build.log")
	if req.Command != "" {
		if err := b.run(ctx, req, res.Dir, logPath); err != nil {
			log.Warn("build failed", "err", err)
			return Result{}, err
		}
	}
	if err := os.WriteFile(filepath.Join(ws, "done"), []byte(key+"\n"), 0o644); err != nil {
		return Result{}, fmt.Errorf("build: mark done: %w", err)
	}
	res.Log = strings.Join(logTail(logPath, tailLines), "\n")
	log.Info("build finished")
	return res, nil
}

func (b *Builder) unpack(ctx context.Context, digest, dst string) error {
	if b.blobs == nil {
		return fmt.Errorf("%w: %s (no blob store)", ErrSourceNotFound, digest)
	}
	rc, _, err := b.blobs.Open(ctx, digest)
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrSourceNotFound, digest)
	}
	if err != nil {
		return fmt.Errorf("build: open source: %w", err)
	}
	defer rc.Close()
	if err := extract(rc, dst, b.limits); err != nil {
		return err
	}
	// The archive's end may come before the stream's: read the rest, so
	// the store's check of the content against its digest runs.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return fmt.Errorf("build: source %s: %w", digest, err)
	}
	return nil
}

// validate checks req and returns its Dir as a clean slash path ("." for the
// root).
func validate(req Request) (string, error) {
	if req.App == "" || !filepath.IsLocal(req.App) || strings.ContainsAny(req.App, `/\`) {
		return "", fmt.Errorf("%w: app: %q is not a plain name", ErrInvalidRequest, req.App)
	}
	if req.Source != "" && !blob.ValidDigest(req.Source) {
		return "", fmt.Errorf("%w: source: %q is not a digest (sha256:<64 hex digits>)", ErrInvalidRequest, req.Source)
	}
	dir := req.Dir
	if dir == "" {
		dir = "."
	}
	if !filepath.IsLocal(filepath.FromSlash(dir)) || strings.Contains(dir, `\`) {
		return "", fmt.Errorf("%w: dir: %q must be a relative path inside the app, without \"..\"", ErrInvalidRequest, req.Dir)
	}
	return filepath.ToSlash(filepath.Clean(dir)), nil
}
