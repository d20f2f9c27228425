package artifact_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/swaptest"
)

func write(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func pack(t *testing.T, dir string, files []string, max int64) (artifact.Packed, []byte, error) {
	t.Helper()
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	var buf bytes.Buffer
	p, err := artifact.Pack(t.Context(), root, files, &buf, max)
	return p, buf.Bytes(), err
}

// The same files make the same archive, whatever order they are named
// in and whenever they were written; unpacking gives them back.
func TestPackIsReproducibleAndExtracts(t *testing.T) {
	t.Parallel()
	a, b := t.TempDir(), t.TempDir()
	files := map[string]string{"bin/web": "binary", "dist/app.js": "js", "README": "r"}
	write(t, a, files)
	write(t, b, files)
	if err := os.Chmod(filepath.Join(a, "bin/web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(b, "bin/web"), 0o700); err != nil {
		t.Fatal(err)
	}
	pa, ba, err := pack(t, a, []string{"dist/app.js", "bin/web", "README"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := pack(t, b, []string{"README", "bin/web", "dist/app.js", "README"}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if pa.Digest != pb.Digest || pa.Size != int64(len(ba)) || pa.Bytes != 9 {
		t.Fatalf("packs differ or miscounted: %+v %+v (len %d)", pa, pb, len(ba))
	}
	if want := []string{"README", "bin/web", "dist/app.js"}; !slices.Equal(pa.Files, want) {
		t.Fatalf("files = %v; want %v", pa.Files, want)
	}
	out := t.TempDir()
	got, err := artifact.Extract(bytes.NewReader(ba), out, 1<<20)
	if err != nil || len(got) != 3 {
		t.Fatalf("Extract = %v, %v", got, err)
	}
	body, err := os.ReadFile(filepath.Join(out, "bin/web"))
	if err != nil || string(body) != "binary" {
		t.Fatalf("bin/web = %q, %v", body, err)
	}
	if fi, _ := os.Stat(filepath.Join(out, "bin/web")); fi.Mode().Perm() != 0o755 {
		t.Errorf("bin/web mode %v; want 0755", fi.Mode().Perm())
	}
}

func TestPackRefuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, dir, map[string]string{"big": "0123456789", "ok": "x"})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		files []string
		max   int64
		is    error
	}{
		{"over the limit", []string{"ok", "big"}, 5, artifact.ErrTooLarge},
		{"parent", []string{"../x"}, 100, artifact.ErrBadArchive},
		{"absolute", []string{"/etc/passwd"}, 100, artifact.ErrBadArchive},
		{"symlink", []string{"link"}, 100, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := pack(t, dir, tc.files, tc.max)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Pack(%v) = %v; want %v", tc.files, err, tc.is)
			}
		})
	}
}

// tarGz builds an archive by hand, as a hostile step agent could.
func tarGz(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, h := range hdrs {
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write(bytes.Repeat([]byte("a"), int(h.Size))); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Hostile archives write nothing outside the target folder.
func TestExtractRefusesEscapes(t *testing.T) {
	t.Parallel()
	reg := func(name string, size int64) tar.Header {
		return tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644}
	}
	for _, tc := range []struct {
		name    string
		archive []byte
		is      error
	}{
		{"parent", tarGz(t, reg("../escape", 1)), artifact.ErrBadArchive},
		{"nested parent", tarGz(t, reg("a/../../escape", 1)), artifact.ErrBadArchive},
		{"absolute", tarGz(t, reg("/tmp/escape", 1)), artifact.ErrBadArchive},
		{"symlink", tarGz(t, tar.Header{Typeflag: tar.TypeSymlink, Name: "l", Linkname: "/"}), artifact.ErrBadArchive},
		{"hard link", tarGz(t, tar.Header{Typeflag: tar.TypeLink, Name: "l", Linkname: "x"}), artifact.ErrBadArchive},
		{"too large", tarGz(t, reg("a", 60), reg("b", 60)), artifact.ErrTooLarge},
		{"not gzip", []byte("plain text"), artifact.ErrBadArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "out")
			_, err := artifact.Extract(bytes.NewReader(tc.archive), dir, 100)
			if !errors.Is(err, tc.is) {
				t.Fatalf("Extract = %v; want %v", err, tc.is)
			}
			if _, err := os.Stat(filepath.Join(parent, "escape")); err == nil {
				t.Fatal("a file was written outside the folder")
			}
		})
	}
}

// A symlink already in the target folder is replaced, not written through.
func TestExtractDoesNotFollowPlantedSymlink(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "out")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(parent, "victim")
	write(t, parent, map[string]string{"victim": "keep"})
	if err := os.Symlink(victim, filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	if _, err := artifact.Extract(bytes.NewReader(tarGz(t, tar.Header{Typeflag: tar.TypeReg, Name: "f", Size: 3, Mode: 0o644})), dir, 100); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim = %q; the symlink was followed", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "aaa" {
		t.Fatalf("f = %q", b)
	}
}

// Collect and Pack read through the root they are given: with a folder of
// it swapped again and again for a symlink to a folder outside, they may
// fail, but no archive ever holds an outside file.
func TestCollectAndPackNeverLeaveTheRoot(t *testing.T) {
	t.Parallel()
	secret := "outside-secret-" + t.Name()
	outside, dir := t.TempDir(), t.TempDir()
	in, out := map[string]string{}, map[string]string{}
	for i := range 64 {
		name := fmt.Sprintf("f%02d", i)
		in["out/"+name], out[name] = "inside", secret
	}
	write(t, outside, out)
	write(t, dir, in)
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	swaptest.Folder(t, filepath.Join(dir, "out"), outside)

	deadline := time.Now().Add(3 * time.Second)
	rounds, failed := 0, 0
	for ; time.Now().Before(deadline); rounds++ {
		var log, buf bytes.Buffer
		files, err := artifact.Collect(t.Context(), root, []string{"out/", "out/*"}, &log)
		if err == nil {
			_, err = artifact.Pack(t.Context(), root, files, &buf, 1<<20)
		}
		if err != nil {
			failed++
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("round %d: the error holds an outside file: %v", rounds, err)
			}
			continue
		}
		_, err = artifact.Walk(&buf, 1<<20, func(name string, _ int64, r io.Reader) error {
			b, err := io.ReadAll(r)
			if err == nil && strings.Contains(string(b), secret) {
				return fmt.Errorf("%s holds a file from outside the root", name)
			}
			return err
		})
		if err != nil {
			t.Fatalf("round %d: %v", rounds, err)
		}
	}
	t.Logf("%d rounds, %d failed while the folder was swapped", rounds, failed)
}
