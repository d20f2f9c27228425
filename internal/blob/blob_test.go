package blob_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/blob/blobtest"
)

func TestDirContract(t *testing.T) {
	t.Parallel()
	blobtest.Run(t, func(t *testing.T) blobtest.Opened {
		root := t.TempDir()
		s, err := blob.New(root)
		if err != nil {
			t.Fatal(err)
		}
		path := func(digest string) string {
			return filepath.Join(root, "sha256", strings.TrimPrefix(digest, "sha256:"))
		}
		return blobtest.Opened{Store: s,
			Damage: func(t *testing.T, digest string) {
				b, err := os.ReadFile(path(digest))
				if err != nil {
					t.Fatal(err)
				}
				b[len(b)/2] ^= 0xff
				if err := os.WriteFile(path(digest), b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			Age: func(t *testing.T, digest string, by time.Duration) { blobtest.AgeFile(t, root, digest, by) },
		}
	})
}

// A refused Put leaves no half-written file behind, and Digests lists
// what was stored.
func TestDirLeavesNothingBehind(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s, err := blob.New(root)
	if err != nil {
		t.Fatal(err)
	}
	good := []byte("kept")
	if err := s.Put(t.Context(), blobtest.Digest(good), bytes.NewReader(good), 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), blobtest.Digest([]byte("x")), strings.NewReader("y"), 10); err == nil {
		t.Fatal("Put of content that differs from its digest succeeded")
	}
	if err := s.Put(t.Context(), blobtest.Digest([]byte("0123456789")), strings.NewReader("0123456789"), 5); err == nil {
		t.Fatal("Put of content over max succeeded")
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, filepath.Base(p))
		}
		return nil
	})
	want := strings.TrimPrefix(blobtest.Digest(good), "sha256:")
	if len(files) != 1 || files[0] != want {
		t.Errorf("files = %v; want only %s", files, want)
	}
	ds, err := s.Digests()
	if err != nil || len(ds) != 1 || ds[0] != blobtest.Digest(good) {
		t.Errorf("Digests = %v, %v", ds, err)
	}
}
