package artifact

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/berthdev/berth/internal/tarcheck"
)

// DefaultMaxBytes caps the content of one step's artifacts unless the
// server is told otherwise.
const DefaultMaxBytes = 1 << 30

// ErrTooLarge means the files' content passes the limit given.
var ErrTooLarge = errors.New("artifact: too large")

// ErrBadArchive means an archive is not a tar.gz of safe, regular files.
var ErrBadArchive = errors.New("artifact: bad archive")

// CheckName refuses a name that could leave the folder an archive is
// unpacked in, or that is not in the clean form Pack writes.
func CheckName(name string) error {
	clean, err := tarcheck.Name(name)
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrBadArchive, err)
	case clean == ".":
		return fmt.Errorf("%w: %q is not a relative file name", ErrBadArchive, name)
	case clean != name:
		return fmt.Errorf("%w: %q is not a clean slash-separated name", ErrBadArchive, name)
	}
	return nil
}

// Walk reads the tar.gz r and calls fn for each file with its content,
// refusing (ErrBadArchive) any entry that is not a regular file or a
// folder with a clean relative name, and stopping with ErrTooLarge once
// the content passes max bytes. It returns the files in archive order.
func Walk(r io.Reader, max int64, fn func(name string, mode int64, content io.Reader) error) ([]string, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: not gzip: %w", ErrBadArchive, err)
	}
	tr := tar.NewReader(gz)
	var files []string
	budget := tarcheck.Budget{Max: max}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return files, fmt.Errorf("%w: %w", ErrBadArchive, err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if err := CheckName(name); err != nil {
			return files, err
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg:
		default:
			return files, fmt.Errorf("%w: %s is not a regular file or folder", ErrBadArchive, name)
		}
		if err := budget.Take(hdr.Size); err != nil {
			return files, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		files = append(files, name)
		if fn != nil {
			if err := fn(name, hdr.Mode, tr); err != nil {
				return files, err
			}
		}
	}
}

// Extract unpacks the tar.gz r into dir through a rooted view (os.Root):
// no name, however made, writes outside dir. Existing files are
// replaced; files are 0644, or 0755 when the archive says executable.
func Extract(r io.Reader, dir string, max int64) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("artifact: %w", err)
	}
	defer root.Close()
	return Walk(r, max, func(name string, mode int64, content io.Reader) error {
		return writeFile(root, name, mode, content)
	})
}

// writeFile writes content to name in root, replacing what is there.
func writeFile(root *os.Root, name string, mode int64, content io.Reader) error {
	if d := path.Dir(name); d != "." {
		if err := root.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("artifact: %s: %w", name, err)
		}
	}
	perm := os.FileMode(0o644)
	if mode&0o111 != 0 {
		perm = 0o755
	}
	_ = root.Remove(name) // a symlink planted at name is replaced, not followed
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("artifact: %s: %w", name, err)
	}
	if _, err := io.Copy(f, content); err != nil {
		f.Close()
		return fmt.Errorf("artifact: %s: %w", name, err)
	}
	return f.Close()
}
