package local

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// Prepare makes dir a run workspace: src and home inside it, and all
// under them, owned by the step user; dir itself stays the server's,
// searchable but not writable by that user. Call it after the checkout is
// in place. It checks that the step user can reach the workspace.
//
// Why dir stays the server's: the server reads src/ (artifacts, cache
// keys, the deploy step's archive) and writes into src/ and home/ (cache
// restores) as root, by those paths. A step owning dir could rename src/
// and put a symlink to /etc or the data directory in its place, and
// point the server's next copy at files of its own choosing.
func (e *Executor) Prepare(ctx context.Context, dir string) (executor.Workspace, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return executor.Workspace{}, fmt.Errorf("workspace: %w", err)
	}
	ws := executor.Layout(dir)
	for _, d := range []string{ws.Root, ws.Src, ws.Home} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return executor.Workspace{}, fmt.Errorf("workspace: %w", err)
		}
	}
	if e.cred == nil {
		return ws, nil
	}
	if err := reachable(filepath.Dir(dir), *e.cred); err != nil {
		return executor.Workspace{}, err
	}
	for _, d := range []string{ws.Src, ws.Home} {
		if err := chownTree(ctx, d, *e.cred); err != nil {
			return executor.Workspace{}, err
		}
	}
	if err := os.Lchown(ws.Root, os.Geteuid(), os.Getegid()); err != nil {
		return executor.Workspace{}, fmt.Errorf("workspace: %w", err)
	}
	if err := os.Chmod(ws.Root, 0o711); err != nil {
		return executor.Workspace{}, fmt.Errorf("workspace: %w", err)
	}
	return ws, nil
}

// reachable checks that the step user may search every folder from / down
// to dir. A workspace under the server's 0700 data directory is not: that
// is the point of the data directory, so workspaces live elsewhere.
func reachable(dir string, c ids) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := fi.Mode().Perm()
		var can bool
		switch {
		case int(st.Uid) == c.uid:
			can = mode&0o100 != 0
		case int(st.Gid) == c.gid:
			can = mode&0o010 != 0
		default:
			can = mode&0o001 != 0
		}
		if !can {
			return fmt.Errorf("workspace: uid %d cannot enter %s (mode %04o, owner %d): put run workspaces outside the server's data directory", c.uid, d, mode, st.Uid)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownTree gives dir and everything under it to the step user, without
// following symlinks.
func chownTree(ctx context.Context, dir string, c ids) error {
	return filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := os.Lchown(p, c.uid, c.gid); err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
		return nil
	})
}
