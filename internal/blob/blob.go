// Package blob keeps content-addressed files (source archives) in the data
// directory. A blob's name is its digest, so writing the same content twice is
// harmless and what was stored cannot change underneath a release.
package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
)

// ErrNotFound is returned by Open for an unknown digest.
var ErrNotFound = errors.New("blob: not found")

// ErrDigestMismatch means the content does not hash to the digest given.
var ErrDigestMismatch = errors.New("blob: content does not match digest")

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d looks like "sha256:<64 hex>".
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// Store is a folder of blobs.
type Store struct{ dir string }

// New returns a store under dir, creating it.
func New(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob: create %s: %w", dir, err)
	}
	return &Store{dir: dir}, nil
}

func (s *Store) path(digest string) string {
	return filepath.Join(s.dir, "sha256", digest[len("sha256:"):])
}

// Has reports whether the blob is stored.
func (s *Store) Has(digest string) bool {
	if !ValidDigest(digest) {
		return false
	}
	_, err := os.Stat(s.path(digest))
	return err == nil
}

// Put stores r under digest, reading at most max bytes. The file appears
// only once complete and verified (written to a temp file, synced, renamed).
func (s *Store) Put(digest string, r io.Reader, max int64) error {
	if !ValidDigest(digest) {
		return fmt.Errorf("blob: %q is not a digest (sha256:<64 hex digits>)", digest)
	}
	if s.Has(digest) {
		_, _ = io.Copy(io.Discard, io.LimitReader(r, max))
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
		return fmt.Errorf("blob: larger than %d bytes", max)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		tmp.Close()
		return fmt.Errorf("%w: got %s", ErrDigestMismatch, got)
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

// Open returns the blob's content.
func (s *Store) Open(digest string) (io.ReadCloser, error) {
	if !ValidDigest(digest) {
		return nil, ErrNotFound
	}
	f, err := os.Open(s.path(digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	return f, nil
}

// Remove deletes a blob; a missing one is not an error. Only a restore
// that failed calls it, to take back the archives it wrote: a release
// never loses its source.
func (s *Store) Remove(digest string) error {
	if !ValidDigest(digest) {
		return fmt.Errorf("blob: %q is not a digest (sha256:<64 hex digits>)", digest)
	}
	if err := os.Remove(s.path(digest)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("blob: %w", err)
	}
	return nil
}
