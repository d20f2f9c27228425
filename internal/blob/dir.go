package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Dir is a folder of blobs, one file per digest: the store of a server
// whose state is one SQLite file in its data directory. A blob's age is
// its file's modification time, which Put of stored content and Touch
// set to now.
type Dir struct {
	dir string
	// mu makes Delete's age check and removal one step against Touch
	// (and Put of stored content): one server owns the folder, so a lock
	// in the process is enough.
	mu sync.Mutex
}

var _ Store = (*Dir)(nil)

// New returns the folder store under dir, creating it.
func New(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	return &Dir{dir: dir}, nil
}

func (s *Dir) path(digest string) string {
	return filepath.Join(s.dir, "sha256", digest[len("sha256:"):])
}

// Has reports whether the blob is stored.
func (s *Dir) Has(_ context.Context, digest string) (bool, error) {
	if !ValidDigest(digest) {
		return false, nil
	}
	_, err := os.Stat(s.path(digest))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: %w", err)
	}
	return true, nil
}

// Put stores r under digest, reading at most max bytes. The file appears
// only once complete and verified (written to a temp file, synced, renamed).
func (s *Dir) Put(ctx context.Context, digest string, r io.Reader, max int64) error {
	if err := CheckDigest(digest); err != nil {
		return err
	}
	if ok, err := s.Touch(ctx, digest); err != nil {
		return err
	} else if ok {
		Drain(r, max)
		return nil
	}
	dst := s.path(digest)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), io.LimitReader(r, max+1))
	if err != nil {
		tmp.Close()
		return fmt.Errorf("blob: write: %w", err)
	}
	if n > max {
		tmp.Close()
		return TooLarge(max)
	}
	if err := Verify(digest, h); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("blob: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// Open returns the blob's content and size.
func (s *Dir) Open(_ context.Context, digest string) (io.ReadCloser, int64, error) {
	if !ValidDigest(digest) {
		return nil, 0, ErrNotFound
	}
	f, err := os.Open(s.path(digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, ErrNotFound
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blob: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("blob: %w", err)
	}
	return Verifying(digest, f), fi.Size(), nil
}

// Touch sets the blob's modification time to now, if it is stored.
func (s *Dir) Touch(_ context.Context, digest string) (bool, error) {
	if !ValidDigest(digest) {
		return false, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	err := os.Chtimes(s.path(digest), now, now)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: %w", err)
	}
	return true, nil
}

// List returns the stored blobs with their sizes and ages.
func (s *Dir) List(_ context.Context) ([]Info, error) {
	digests, err := s.Digests()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(digests))
	for _, d := range digests {
		fi, err := os.Stat(s.path(d))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, fmt.Errorf("blob: %w", err)
		}
		out = append(out, Info{Digest: d, Size: fi.Size(), Age: time.Since(fi.ModTime())})
	}
	return out, nil
}

// Delete removes the blob if its file was last modified at least minAge
// ago.
func (s *Dir) Delete(_ context.Context, digest string, minAge time.Duration) (bool, error) {
	if err := CheckDigest(digest); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	fi, err := os.Stat(s.path(digest))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("blob: %w", err)
	}
	if time.Since(fi.ModTime()) < minAge {
		return false, nil
	}
	if err := os.Remove(s.path(digest)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("blob: %w", err)
	}
	return true, nil
}

// Remove deletes a blob; a missing one is not an error. Only a restore
// that failed calls it, to take back the archives it wrote: a release
// never loses its source.
func (s *Dir) Remove(digest string) error {
	if err := CheckDigest(digest); err != nil {
		return err
	}
	if err := os.Remove(s.path(digest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}

// Digests lists the stored blobs. A server moving to a shared database
// copies them there (internal/server).
func (s *Dir) Digests() ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "sha256"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	var out []string
	for _, e := range entries {
		d := "sha256:" + e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") && ValidDigest(d) {
			out = append(out, d)
		}
	}
	return out, nil
}
