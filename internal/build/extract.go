package build

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/berthdev/berth/internal/tarcheck"
)

// limits caps what one archive may unpack to, so that an upload cannot fill
// the disk or the inode table (a "zip bomb" compresses very well).
type limits struct {
	maxBytes int64
	maxFiles int
}

// extract unpacks the tar.gz r into dst, which must exist and be empty.
//
// Every write goes through an os.Root, so nothing can land outside dst even
// if a check below has a hole; the checks are there to refuse such archives
// with a clear message instead of half-extracting them.
func extract(r io.Reader, dst string, lim limits) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fmt.Errorf("%w: not a gzip stream: %w", ErrUnsafeArchive, err)
	}
	defer gz.Close()
	root, err := os.OpenRoot(dst)
	if err != nil {
		return fmt.Errorf("build: open workspace: %w", err)
	}
	defer root.Close()

	tr := tar.NewReader(gz)
	budget := tarcheck.Budget{Max: lim.maxBytes}
	files := 0
	var symlinks []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: read: %w", ErrUnsafeArchive, err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader || h.Typeflag == tar.TypeXHeader {
			continue // metadata, not a file (git archive writes one)
		}
		name, err := cleanName(h.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		files++
		if files > lim.maxFiles {
			return fmt.Errorf("%w: more than %d entries", ErrUnsafeArchive, lim.maxFiles)
		}
		if err := checkParents(root, name); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdir(root, name); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := budget.Take(h.Size); err != nil {
				return fmt.Errorf("%w: %w", ErrUnsafeArchive, err)
			}
			if err := writeFile(root, name, h, tr); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := checkLinkTarget(name, h.Linkname); err != nil {
				return err
			}
			if err := mkdir(root, path.Dir(name)); err != nil {
				return err
			}
			if err := root.Symlink(h.Linkname, name); err != nil {
				return fmt.Errorf("%w: entry %q: %w", ErrUnsafeArchive, name, err)
			}
			symlinks = append(symlinks, name)
		case tar.TypeLink:
			if err := hardlink(root, name, h.Linkname); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: entry %q: type %q is not a file, directory or link", ErrUnsafeArchive, name, string(h.Typeflag))
		}
	}
	// A lexically harmless target can still lead out once other links are
	// followed ("b -> a/.." with "a -> ."); os.Root resolves links the way
	// the kernel will, and refuses any that leave the root.
	for _, name := range symlinks {
		if _, err := root.Stat(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: symlink %q leads outside the source: %w", ErrUnsafeArchive, name, err)
		}
	}
	return nil
}

// cleanName turns an entry name into a clean relative slash path, refusing
// absolute names and any ".." component.
func cleanName(name string) (string, error) {
	clean, err := tarcheck.Name(name)
	if err != nil {
		return "", fmt.Errorf("%w: entry %w", ErrUnsafeArchive, err)
	}
	return clean, nil
}

// checkParents refuses an entry whose parent folders include a symlink:
// writing through links would make the lexical checks meaningless.
func checkParents(root *os.Root, name string) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		fi, err := root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil // created below; nothing deeper exists either
		}
		if err != nil {
			return fmt.Errorf("%w: entry %q: %w", ErrUnsafeArchive, name, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("%w: entry %q: parent %q is a symlink", ErrUnsafeArchive, name, p)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%w: entry %q: parent %q is not a directory", ErrUnsafeArchive, name, p)
		}
	}
	return nil
}

func checkLinkTarget(name, target string) error {
	if target == "" || strings.HasPrefix(target, "/") {
		return fmt.Errorf("%w: symlink %q -> %q: target must be a relative path", ErrUnsafeArchive, name, target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("%w: symlink %q -> %q leads outside the source", ErrUnsafeArchive, name, target)
	}
	return nil
}

func mkdir(root *os.Root, name string) error {
	if name == "." {
		return nil
	}
	if fi, err := root.Lstat(name); err == nil && !fi.IsDir() {
		return fmt.Errorf("%w: entry %q: exists and is not a directory", ErrUnsafeArchive, name)
	}
	if err := root.MkdirAll(name, 0o755); err != nil {
		return fmt.Errorf("%w: entry %q: %w", ErrUnsafeArchive, name, err)
	}
	return nil
}

func writeFile(root *os.Root, name string, h *tar.Header, r io.Reader) error {
	if err := mkdir(root, path.Dir(name)); err != nil {
		return err
	}
	// Keep the execute bits (built tools, scripts); drop setuid and friends.
	perm := h.FileInfo().Mode().Perm()&0o755 | 0o600
	// O_EXCL: never overwrite, so a duplicate entry cannot replace a
	// symlink's target or an earlier file.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("%w: entry %q: %w", ErrUnsafeArchive, name, err)
	}
	n, err := io.Copy(f, io.LimitReader(r, h.Size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("build: write %q: %w", name, err)
	}
	if n != h.Size {
		return fmt.Errorf("%w: entry %q: truncated", ErrUnsafeArchive, name)
	}
	return nil
}

func hardlink(root *os.Root, name, linkname string) error {
	target, err := cleanName(linkname)
	if err != nil {
		return fmt.Errorf("%w: hard link %q -> %q: target must be a relative path without \"..\"", ErrUnsafeArchive, name, linkname)
	}
	if err := checkParents(root, target); err != nil {
		return err
	}
	fi, err := root.Lstat(target)
	if err != nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: hard link %q -> %q: target is not a file extracted earlier", ErrUnsafeArchive, name, target)
	}
	if err := mkdir(root, path.Dir(name)); err != nil {
		return err
	}
	if err := root.Link(target, name); err != nil {
		return fmt.Errorf("%w: hard link %q: %w", ErrUnsafeArchive, name, err)
	}
	return nil
}
