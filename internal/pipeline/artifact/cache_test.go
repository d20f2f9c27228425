package artifact_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/berthdev/berth/internal/pipeline/artifact"
)

func roots(t *testing.T, src, home string) artifact.CacheRoots {
	t.Helper()
	s, err := os.OpenRoot(src)
	if err != nil {
		t.Fatal(err)
	}
	h, err := os.OpenRoot(home)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); h.Close() })
	return artifact.CacheRoots{Src: s, Home: h}
}

// A cache spans the checkout and the home; what is packed comes back
// byte for byte in fresh folders, and symlinks stay behind.
func TestCacheRoundTrip(t *testing.T) {
	t.Parallel()
	src, home := t.TempDir(), t.TempDir()
	write(t, src, map[string]string{"vendor/a/a.go": "package a", "vendor/b.txt": "b", "main.go": "not cached"})
	write(t, home, map[string]string{".cache/go/x": "built", ".cache/go/sub/y": "more", ".other": "no"})
	outside := filepath.Join(t.TempDir(), "secret")
	write(t, filepath.Dir(outside), map[string]string{"secret": "outside"})
	if err := os.Symlink(outside, filepath.Join(src, "vendor", "leak")); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	r := roots(t, src, home)
	files, err := artifact.CollectCache(t.Context(), r, []string{"vendor", "~/.cache/go", "missing"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"src/vendor/a/a.go", "src/vendor/b.txt", "home/.cache/go/sub/y", "home/.cache/go/x"}
	if !slices.Equal(slices.Sorted(slices.Values(files)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("CollectCache = %v, want %v", files, want)
	}
	if !bytes.Contains(log.Bytes(), []byte("cache: skipped symlink vendor/leak")) || !bytes.Contains(log.Bytes(), []byte("cache: nothing matches missing")) {
		t.Errorf("notes = %q", log.String())
	}
	var buf bytes.Buffer
	p, err := artifact.PackCache(t.Context(), r, files, &buf, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if p.Size != int64(buf.Len()) || p.Bytes != int64(len("package a")+len("b")+len("built")+len("more")) {
		t.Errorf("packed = %+v (%d bytes written)", p, buf.Len())
	}
	src2, home2 := t.TempDir(), t.TempDir()
	got, err := artifact.ExtractCache(bytes.NewReader(buf.Bytes()), roots(t, src2, home2), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Errorf("extracted %v", got)
	}
	for dir, names := range map[[2]string][]string{{src, src2}: {"vendor/a/a.go", "vendor/b.txt"}, {home, home2}: {".cache/go/x", ".cache/go/sub/y"}} {
		for _, n := range names {
			a, _ := os.ReadFile(filepath.Join(dir[0], n))
			b, err := os.ReadFile(filepath.Join(dir[1], n))
			if err != nil || !bytes.Equal(a, b) {
				t.Errorf("%s: restored %q (%v), want %q", n, b, err, a)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(src2, "vendor", "leak")); err == nil {
		t.Error("the symlink was cached")
	}
}

// A cache archive may hold only src/ and home/ names.
func TestCacheNames(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"src/a", "home/.cache/x"} {
		if err := artifact.CheckCacheName(name); err != nil {
			t.Errorf("CheckCacheName(%q) = %v", name, err)
		}
	}
	for _, name := range []string{"a", "etc/passwd", "src", "../src/a", "/src/a", "src/../../a"} {
		if err := artifact.CheckCacheName(name); !errors.Is(err, artifact.ErrBadArchive) {
			t.Errorf("CheckCacheName(%q) = %v, want ErrBadArchive", name, err)
		}
	}
	src := t.TempDir()
	_, buf, err := pack(t, src, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := artifact.ExtractCache(bytes.NewReader(buf), roots(t, src, t.TempDir()), 1); err != nil {
		t.Errorf("empty archive: %v", err)
	}
	write(t, src, map[string]string{"etc/passwd": "x"})
	_, buf, err = pack(t, src, []string{"etc/passwd"}, 100)
	if err != nil {
		t.Fatal(err)
	}
	_, err = artifact.ExtractCache(bytes.NewReader(buf), roots(t, t.TempDir(), t.TempDir()), 100)
	if !errors.Is(err, artifact.ErrBadArchive) {
		t.Errorf("archive outside src/ and home/: %v", err)
	}
}
