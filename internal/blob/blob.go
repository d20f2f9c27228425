// Package blob keeps content-addressed files (source archives). A blob's
// name is its digest, so writing the same content twice is harmless and
// what was stored cannot change underneath a release.
//
// Two stores implement Store: Dir, a folder in the data directory (the
// SQLite store's companion: one server owns the folder), and the
// PostgreSQL store's own (internal/store/postgres), so that every server
// sharing a database reads what any one of them was sent.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"regexp"
	"time"
)

// Store keeps blobs by digest.
type Store interface {
	// Put stores r under digest, reading at most max bytes. Content that
	// does not hash to digest is refused (ErrDigestMismatch) and nothing
	// is stored; putting a stored blob again reads r and stores nothing.
	Put(ctx context.Context, digest string, r io.Reader, max int64) error
	// Open returns the blob's content and size (ErrNotFound for an
	// unknown digest). Reading it to the end checks the content against
	// the digest once more: a damaged blob ends in ErrDigestMismatch,
	// never in io.EOF.
	Open(ctx context.Context, digest string) (io.ReadCloser, int64, error)
	// Has reports whether digest is stored.
	Has(ctx context.Context, digest string) (bool, error)
	// Touch reports whether digest is stored and, when it is, makes it
	// young again, as a Put of stored content does: a caller about to
	// refer to a blob it did not just put (an apply naming an archive
	// uploaded long ago) touches it, so garbage collection spares it
	// for another grace period (see Delete).
	Touch(ctx context.Context, digest string) (bool, error)
	// List returns every stored blob with its size and age, by the
	// store's own clock (the database's, for a store that several
	// servers share), so clocks that disagree cannot age a blob early.
	List(ctx context.Context) ([]Info, error)
	// Delete removes the blob when it was put or touched at least minAge
	// ago and reports whether it did; a younger or unknown blob is left
	// alone (false, nil). The age check and the removal are one step
	// against Put and Touch: a blob touched while Delete runs is either
	// kept, or gone before the touch (which then answers false, and a
	// Put stores it afresh) — never touched and then removed.
	Delete(ctx context.Context, digest string, minAge time.Duration) (bool, error)
}

// Info describes a stored blob for garbage collection.
type Info struct {
	Digest string
	Size   int64
	// Age is how long ago the blob was last put or touched.
	Age time.Duration
}

// ErrNotFound is returned by Open for an unknown digest.
var ErrNotFound = errors.New("blob: not found")

// ErrDigestMismatch means the content does not hash to the digest given.
var ErrDigestMismatch = errors.New("blob: content does not match digest")

// ErrTooLarge means the content is longer than Put's max.
var ErrTooLarge = errors.New("blob: too large")

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// ValidDigest reports whether d looks like "sha256:<64 hex>".
func ValidDigest(d string) bool { return digestRE.MatchString(d) }

// CheckDigest is ValidDigest as an error that says what was expected.
func CheckDigest(d string) error {
	if !ValidDigest(d) {
		return fmt.Errorf("blob: %q is not a digest (sha256:<64 hex digits>)", d)
	}
	return nil
}

// Verify compares what h hashed with digest; the error names the digest
// the content has (the API tells an uploader).
func Verify(digest string, h hash.Hash) error {
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != digest {
		return fmt.Errorf("%w: got %s", ErrDigestMismatch, got)
	}
	return nil
}

// TooLarge is the error a Store returns for content longer than max.
func TooLarge(max int64) error { return fmt.Errorf("%w: larger than %d bytes", ErrTooLarge, max) }

// Verifying wraps rc, the content of digest, so that reading it to the
// end checks it: ErrDigestMismatch instead of io.EOF when it does not
// hash to digest. Stores return their content through it.
func Verifying(digest string, rc io.ReadCloser) io.ReadCloser {
	return &verifier{digest: digest, rc: rc, h: sha256.New()}
}

type verifier struct {
	digest string
	rc     io.ReadCloser
	h      hash.Hash
	err    error // sticky once the end is reached
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if verr := Verify(v.digest, v.h); verr != nil {
			err = verr
		}
		v.err = err
	}
	return n, err
}

func (v *verifier) Close() error { return v.rc.Close() }

// Drain reads what a Put of a stored blob was handed, up to max, so an
// uploader's request is consumed as it would be by a write.
func Drain(r io.Reader, max int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, max))
}
