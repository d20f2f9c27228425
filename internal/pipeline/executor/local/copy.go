package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// errBudget is returned when a copy would pass its size limit.
var errBudget = errors.New("size limit reached")

// copier copies files between two os.Roots. Roots resolve every path
// inside themselves, so neither ".." nor a symlink the step planted can
// make the server (root) read or write outside the workspace or the
// artifact and cache folders.
type copier struct {
	from, to *os.Root
	// owner, when set, is given every file and folder created in to.
	owner  *ids
	budget int64
	log    io.Writer
	copied []string
}

// tree copies start (a file or folder in from) to the same path in to,
// taking the files for which include is true (nil: all). A missing start
// copies nothing.
func (c *copier) tree(ctx context.Context, start string, include func(string) bool) error {
	err := fs.WalkDir(c.from.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == start {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return nil
		case d.Type()&fs.ModeSymlink != 0:
			if include == nil || include(p) {
				note(c.log, "skipped symlink %s", p)
			}
			return nil
		case !d.Type().IsRegular():
			return nil // devices, FIFOs and sockets are not build outputs
		case include != nil && !include(p):
			return nil
		}
		return c.file(p)
	})
	if errors.Is(err, fs.SkipAll) {
		return nil
	}
	return err
}

// file copies one regular file. It opens with O_NOFOLLOW and O_NONBLOCK
// and checks the type again, so a file swapped for a symlink or a FIFO
// after the walk saw it is refused rather than followed or blocked on.
func (c *copier) file(p string) error {
	src, err := c.from.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	if fi.Size() > c.budget {
		return fmt.Errorf("%s: %w", p, errBudget)
	}
	if err := c.mkdirs(path.Dir(p)); err != nil {
		return err
	}
	mode := fs.FileMode(0o644)
	if fi.Mode()&0o111 != 0 {
		mode = 0o755
	}
	_ = c.to.Remove(p) // replace a file (or planted symlink) of an older copy
	dst, err := c.to.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, mode)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	n, err := io.Copy(dst, io.LimitReader(src, c.budget+1))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	c.budget -= n
	if c.budget < 0 {
		return fmt.Errorf("%s: %w", p, errBudget)
	}
	if err := c.chown(p); err != nil {
		return err
	}
	c.copied = append(c.copied, p)
	return nil
}

// mkdirs creates dir and its parents in to, owned by owner.
func (c *copier) mkdirs(dir string) error {
	if dir == "." || dir == "" {
		return nil
	}
	if err := c.to.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	for d := dir; d != "." && d != "/"; d = path.Dir(d) {
		if err := c.chown(d); err != nil {
			return err
		}
	}
	return nil
}

func (c *copier) chown(p string) error {
	if c.owner == nil {
		return nil
	}
	if err := c.to.Lchown(p, c.owner.uid, c.owner.gid); err != nil {
		return fmt.Errorf("chown %s: %w", p, err)
	}
	return nil
}
