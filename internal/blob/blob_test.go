package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func digestOf(s string) string {
	h := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(h[:])
}

func TestPutOpen(t *testing.T) {
	t.Parallel()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const content = "hello source"
	d := digestOf(content)
	if s.Has(d) {
		t.Fatal("empty store has the blob")
	}
	if err := s.Put(d, strings.NewReader(content), 1<<20); err != nil {
		t.Fatal(err)
	}
	// Writing the same content again is harmless.
	if err := s.Put(d, strings.NewReader(content), 1<<20); err != nil {
		t.Fatal(err)
	}
	rc, err := s.Open(d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	if string(b) != content {
		t.Fatalf("read %q", b)
	}
}

func TestPutRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, digest, content string
		max                   int64
		want                  string
	}{
		{desc: "not a digest", digest: "md5:abc", content: "x", max: 10, want: "is not a digest"},
		{desc: "uppercase hex", digest: strings.ToUpper(digestOf("x")), content: "x", max: 10, want: "is not a digest"},
		{desc: "content differs", digest: digestOf("x"), content: "y", max: 10, want: "does not match"},
		{desc: "too large", digest: digestOf("0123456789"), content: "0123456789", max: 5, want: "larger than 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			s, err := New(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Put(tt.digest, strings.NewReader(tt.content), tt.max)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Put: %v, want an error containing %q", err, tt.want)
			}
			// Nothing half-written is left behind.
			var files []string
			_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					files = append(files, p)
				}
				return nil
			})
			if len(files) != 0 {
				t.Fatalf("files left: %v", files)
			}
		})
	}
}

func TestOpenUnknown(t *testing.T) {
	t.Parallel()
	s, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{digestOf("nope"), "../../etc/passwd", ""} {
		if _, err := s.Open(d); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Open(%q): %v, want ErrNotFound", d, err)
		}
	}
}
