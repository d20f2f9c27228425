// Package blobtest is the contract every blob.Store passes: the folder
// store and the PostgreSQL store run the same tests.
package blobtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/berthdev/berth/internal/blob"
)

// Opened is a fresh, empty store for one test, and how to damage a
// stored blob's content (so that it no longer hashes to its digest)
// behind the store's back; nil Damage skips that test.
type Opened struct {
	Store  blob.Store
	Damage func(t *testing.T, digest string)
}

// Opener opens a store for one test.
type Opener func(t *testing.T) Opened

// Digest is the digest of content.
func Digest(content []byte) string {
	h := sha256.Sum256(content)
	return "sha256:" + hex.EncodeToString(h[:])
}

// Run runs the contract against the stores h opens.
func Run(t *testing.T, h Opener) {
	t.Run("PutOpen", func(t *testing.T) { t.Parallel(); testPutOpen(t, h) })
	t.Run("Rejects", func(t *testing.T) { t.Parallel(); testRejects(t, h) })
	t.Run("OpenUnknown", func(t *testing.T) { t.Parallel(); testOpenUnknown(t, h) })
	t.Run("ConcurrentPut", func(t *testing.T) { t.Parallel(); testConcurrentPut(t, h) })
	t.Run("DamagedOnRead", func(t *testing.T) { t.Parallel(); testDamaged(t, h) })
}

// content is n bytes that do not repeat in short periods, so a chunk
// read out of order shows.
func content(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func readAll(t *testing.T, s blob.Store, digest string) ([]byte, int64) {
	t.Helper()
	rc, size, err := s.Open(t.Context(), digest)
	if err != nil {
		t.Fatalf("Open(%s): %v", digest, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", digest, err)
	}
	return b, size
}

func testPutOpen(t *testing.T, h Opener) {
	s := h(t).Store
	ctx := t.Context()
	// Empty, small, and more than two 1 MiB chunks with a partial last one.
	for _, n := range []int{0, 13, 2<<20 + 12345} {
		c := content(n)
		d := Digest(c)
		if ok, err := s.Has(ctx, d); err != nil || ok {
			t.Fatalf("Has before Put = %v, %v", ok, err)
		}
		if err := s.Put(ctx, d, bytes.NewReader(c), int64(n)); err != nil {
			t.Fatalf("Put %d bytes: %v", n, err)
		}
		// The same content again is harmless, and consumes its reader.
		again := bytes.NewReader(c)
		if err := s.Put(ctx, d, again, int64(n)); err != nil {
			t.Fatalf("second Put: %v", err)
		}
		if again.Len() != 0 {
			t.Errorf("second Put left %d bytes unread", again.Len())
		}
		if ok, err := s.Has(ctx, d); err != nil || !ok {
			t.Fatalf("Has after Put = %v, %v", ok, err)
		}
		got, size := readAll(t, s, d)
		if size != int64(n) || !bytes.Equal(got, c) {
			t.Fatalf("read back %d bytes (size %d); want the %d put", len(got), size, n)
		}
	}
}

func testRejects(t *testing.T, h Opener) {
	tests := []struct {
		desc, digest, content string
		max                   int64
		want                  string
		is                    error
	}{
		{desc: "not a digest", digest: "md5:abc", content: "x", max: 10, want: "is not a digest"},
		{desc: "uppercase hex", digest: strings.ToUpper(Digest([]byte("x"))), content: "x", max: 10, want: "is not a digest"},
		{desc: "content differs", digest: Digest([]byte("x")), content: "y", max: 10, want: "does not match", is: blob.ErrDigestMismatch},
		{desc: "too large", digest: Digest([]byte("0123456789")), content: "0123456789", max: 5, want: "larger than 5 bytes", is: blob.ErrTooLarge},
		{desc: "differs after a full chunk", digest: Digest(content(1<<20 + 1)), content: string(content(1<<20)) + "!", max: 2 << 20, want: "does not match", is: blob.ErrDigestMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			s := h(t).Store
			err := s.Put(t.Context(), tt.digest, strings.NewReader(tt.content), tt.max)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.is != nil && !errors.Is(err, tt.is)) {
				t.Fatalf("Put: %v, want an error containing %q", err, tt.want)
			}
			// Nothing is stored under the digest.
			if ok, err := s.Has(t.Context(), tt.digest); ok || err != nil {
				t.Errorf("Has after a refused Put = %v, %v", ok, err)
			}
		})
	}
}

func testOpenUnknown(t *testing.T, h Opener) {
	s := h(t).Store
	for _, d := range []string{Digest([]byte("nope")), "../../etc/passwd", ""} {
		if _, _, err := s.Open(t.Context(), d); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Open(%q): %v, want ErrNotFound", d, err)
		}
		if ok, err := s.Has(t.Context(), d); ok || err != nil {
			t.Fatalf("Has(%q) = %v, %v", d, ok, err)
		}
	}
}

// Several writers of one archive (replicas sent the same apply) all
// succeed, and one copy is what is read.
func testConcurrentPut(t *testing.T, h Opener) {
	s := h(t).Store
	c := content(1<<20 + 99)
	d := Digest(c)
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = s.Put(t.Context(), d, bytes.NewReader(c), int64(len(c))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put %d: %v", i, err)
		}
	}
	if got, _ := readAll(t, s, d); !bytes.Equal(got, c) {
		t.Errorf("read back %d bytes that differ from the %d put", len(got), len(c))
	}
}

// Content damaged at rest is not handed out as good: reading it ends in
// ErrDigestMismatch.
func testDamaged(t *testing.T, h Opener) {
	o := h(t)
	if o.Damage == nil {
		t.Skip("no way to damage this store")
	}
	s := o.Store
	c := content(1<<20 + 5)
	d := Digest(c)
	if err := s.Put(t.Context(), d, bytes.NewReader(c), int64(len(c))); err != nil {
		t.Fatal(err)
	}
	o.Damage(t, d)
	rc, _, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadAll(rc); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Errorf("reading damaged content: %v, want ErrDigestMismatch", err)
	}
}
