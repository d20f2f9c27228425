// Package blobtest is the contract every blob.Store passes: the folder
// store and the PostgreSQL store run the same tests.
package blobtest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
)

// Opened is a fresh, empty store for one test, and how to damage a
// stored blob's content (so that it no longer hashes to its digest)
// behind the store's back; nil Damage skips that test. Age makes a
// stored blob by older behind the store's back (as if it had been put
// that long before); nil skips the tests that need it.
type Opened struct {
	Store  blob.Store
	Damage func(t *testing.T, digest string)
	Age    func(t *testing.T, digest string, by time.Duration)
}

// Opener opens a store for one test.
type Opener func(t *testing.T) Opened

// AgeFile ages digest in the folder store rooted at root by by: its
// file's modification time is the blob's age.
func AgeFile(t *testing.T, root, digest string, by time.Duration) {
	t.Helper()
	p := filepath.Join(root, "sha256", strings.TrimPrefix(digest, "sha256:"))
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, time.Time{}, fi.ModTime().Add(-by)); err != nil {
		t.Fatal(err)
	}
}

// AgeSQL ages a blob of the PostgreSQL store by $2 seconds ($1 the digest):
// its stored_at is the blob's age.
const AgeSQL = `UPDATE blobs SET stored_at = stored_at - make_interval(secs => $2) WHERE digest = $1`

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
	t.Run("ListDelete", func(t *testing.T) { t.Parallel(); testListDelete(t, h) })
	t.Run("TouchKeeps", func(t *testing.T) { t.Parallel(); testTouchKeeps(t, h) })
	t.Run("TouchRacesDelete", func(t *testing.T) { t.Parallel(); testTouchRacesDelete(t, h) })
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

func put(t *testing.T, s blob.Store, c []byte) string {
	t.Helper()
	d := Digest(c)
	if err := s.Put(t.Context(), d, bytes.NewReader(c), int64(len(c))); err != nil {
		t.Fatalf("Put: %v", err)
	}
	return d
}

func find(list []blob.Info, digest string) (blob.Info, bool) {
	for _, i := range list {
		if i.Digest == digest {
			return i, true
		}
	}
	return blob.Info{}, false
}

// List names what is stored with its size and age; Delete removes only
// what is old enough, and a deleted blob is gone.
func testListDelete(t *testing.T, h Opener) {
	o := h(t)
	if o.Age == nil {
		t.Skip("no way to age this store's blobs")
	}
	s, ctx := o.Store, t.Context()
	c := content(3<<20 + 17)
	d := put(t, s, c)
	list, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i, ok := find(list, d)
	if !ok || i.Size != int64(len(c)) || i.Age < 0 || i.Age > time.Minute {
		t.Fatalf("List = %+v; want %s with size %d and an age under a minute", list, d, len(c))
	}
	if gone, err := s.Delete(ctx, d, time.Hour); err != nil || gone {
		t.Fatalf("Delete of a young blob = %v, %v; want it kept", gone, err)
	}
	o.Age(t, d, 2*time.Hour)
	list, err = s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i, _ := find(list, d); i.Age < 2*time.Hour || i.Age > 3*time.Hour {
		t.Fatalf("age after aging by 2h = %v", i.Age)
	}
	if gone, err := s.Delete(ctx, d, time.Hour); err != nil || !gone {
		t.Fatalf("Delete of an old blob = %v, %v; want it deleted", gone, err)
	}
	if ok, err := s.Has(ctx, d); ok || err != nil {
		t.Fatalf("Has after Delete = %v, %v", ok, err)
	}
	if _, _, err := s.Open(ctx, d); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open after Delete: %v, want ErrNotFound", err)
	}
	if list, _ := s.List(ctx); len(list) != 0 {
		t.Fatalf("List after Delete = %+v", list)
	}
	if gone, err := s.Delete(ctx, d, 0); err != nil || gone {
		t.Fatalf("second Delete = %v, %v; want false, nil", gone, err)
	}
	if _, err := s.Delete(ctx, "../x", 0); err == nil {
		t.Fatal("Delete of a name that is not a digest: no error")
	}
	// The same content can be put again after its deletion.
	put(t, s, c)
	if got, _ := readAll(t, s, d); !bytes.Equal(got, c) {
		t.Fatal("content put again after Delete reads back different")
	}
}

// Touch, and Put of stored content, make an old blob young again: what an
// uploader re-sends or an apply is about to refer to is not collected
// under it.
func testTouchKeeps(t *testing.T, h Opener) {
	o := h(t)
	if o.Age == nil {
		t.Skip("no way to age this store's blobs")
	}
	s, ctx := o.Store, t.Context()
	if ok, err := s.Touch(ctx, Digest([]byte("never put"))); ok || err != nil {
		t.Fatalf("Touch of an unknown blob = %v, %v", ok, err)
	}
	a, b := put(t, s, []byte("touched")), put(t, s, []byte("put again"))
	o.Age(t, a, 2*time.Hour)
	o.Age(t, b, 2*time.Hour)
	if ok, err := s.Touch(ctx, a); !ok || err != nil {
		t.Fatalf("Touch = %v, %v", ok, err)
	}
	put(t, s, []byte("put again"))
	for _, d := range []string{a, b} {
		if gone, err := s.Delete(ctx, d, time.Hour); err != nil || gone {
			t.Errorf("Delete of %s after it was touched = %v, %v; want it kept", d, gone, err)
		}
	}
}

// The race garbage collection must not lose: an old blob is touched (an
// apply about to refer to it) while Delete runs. Either the touch saw the
// blob and it is still stored, or Delete removed it first and the touch
// said so; a touch that answers true for a blob then deleted would let a
// release refer to nothing.
func testTouchRacesDelete(t *testing.T, h Opener) {
	o := h(t)
	if o.Age == nil {
		t.Skip("no way to age this store's blobs")
	}
	s, ctx := o.Store, t.Context()
	c := []byte("raced")
	for round := range 40 {
		d := put(t, s, c)
		o.Age(t, d, 2*time.Hour)
		var (
			wg            sync.WaitGroup
			touched, gone bool
			terr, derr    error
		)
		wg.Go(func() { touched, terr = s.Touch(ctx, d) })
		wg.Go(func() { gone, derr = s.Delete(ctx, d, time.Hour) })
		wg.Wait()
		if terr != nil || derr != nil {
			t.Fatalf("round %d: Touch: %v, Delete: %v", round, terr, derr)
		}
		has, err := s.Has(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if touched == gone || has != touched {
			t.Fatalf("round %d: touched %v, deleted %v, stored after %v; want exactly one to win, and the blob stored iff touched", round, touched, gone, has)
		}
	}
}
