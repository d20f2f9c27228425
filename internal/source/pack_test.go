package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// writeTree creates files (path -> content) under dir; a content starting
// with "->" makes a symlink to the rest.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if target, ok := strings.CutPrefix(content, "->"); ok {
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type entry struct {
	name, link string
	mode       int64
	typ        byte
}

// readArchive lists the archive's entries and checks what every entry must
// hold for determinism.
func readArchive(t *testing.T, b []byte) []entry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var out []entry
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !h.ModTime.Equal(time.Unix(0, 0)) || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: time/owner not zeroed: %v %d %d %q %q", h.Name, h.ModTime, h.Uid, h.Gid, h.Uname, h.Gname)
		}
		out = append(out, entry{h.Name, h.Linkname, h.Mode, h.Typeflag})
	}
	return out
}

func names(es []entry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.name)
	}
	return n
}

func TestPackDeterministic(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"berth.yaml":   "name: shop\n",
		"web/main.go":  "package main\n",
		"web/static/a": "a",
		"api/main.go":  "package main\n",
		"link":         "->web/main.go",
	}
	a, b := t.TempDir(), t.TempDir()
	writeTree(t, a, files)
	writeTree(t, b, files)
	// Different times and a different creation order must not matter.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(b, "web/main.go"), old, old); err != nil {
		t.Fatal(err)
	}

	var bufA, bufB bytes.Buffer
	da, err := Pack(a, &bufA)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Pack(b, &bufB)
	if err != nil {
		t.Fatal(err)
	}
	if da != db {
		t.Errorf("same files, different digests: %s vs %s", da, db)
	}
	if !bytes.Equal(bufA.Bytes(), bufB.Bytes()) {
		t.Error("same files, different bytes")
	}
	sum := sha256.Sum256(bufA.Bytes())
	if want := "sha256:" + hex.EncodeToString(sum[:]); da != want {
		t.Errorf("digest %s is not the sha256 of the bytes written (%s)", da, want)
	}

	want := []string{"api/", "api/main.go", "berth.yaml", "link", "web/", "web/main.go", "web/static/", "web/static/a"}
	if got := names(readArchive(t, bufA.Bytes())); !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %v, want %v", got, want)
	}

	// A content change changes the digest.
	writeTree(t, b, map[string]string{"web/main.go": "package main // changed\n"})
	dc, err := Pack(b, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if dc == da {
		t.Error("changed content kept the same digest")
	}
}

func TestPackModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"run.sh": "#!/bin/sh\n", "data.txt": "x", "l": "->data.txt"})
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "data.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Pack(dir, &buf); err != nil {
		t.Fatal(err)
	}
	got := readArchive(t, buf.Bytes())
	want := []entry{
		{name: "data.txt", mode: 0o644, typ: tar.TypeReg},
		{name: "l", link: "data.txt", mode: 0o777, typ: tar.TypeSymlink},
		{name: "run.sh", mode: 0o755, typ: tar.TypeReg},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("entries = %+v\nwant %+v", got, want)
	}
}

func TestPackExclusions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		ignore string
		want   []string
	}{
		{
			desc: "no ignore file: only .git is left out",
			want: []string{"berth.yaml", "bin/", "bin/web", "web/", "web/bin/", "web/bin/x", "web/main.go", "web/main.log", "web/sub/", "web/sub/.git"},
		},
		{
			desc:   "dir pattern matches at any depth",
			ignore: "bin/\n",
			want:   []string{".berthignore", "berth.yaml", "web/", "web/main.go", "web/main.log", "web/sub/", "web/sub/.git"},
		},
		{
			desc:   "anchored pattern matches only from the top",
			ignore: "# build output\n/bin\n\n",
			want:   []string{".berthignore", "berth.yaml", "web/", "web/bin/", "web/bin/x", "web/main.go", "web/main.log", "web/sub/", "web/sub/.git"},
		},
		{
			desc:   "glob on names",
			ignore: "*.log\n",
			want:   []string{".berthignore", "berth.yaml", "bin/", "bin/web", "web/", "web/bin/", "web/bin/x", "web/main.go", "web/sub/", "web/sub/.git"},
		},
		{
			desc:   "glob on paths",
			ignore: "web/*\n",
			want:   []string{".berthignore", "berth.yaml", "bin/", "bin/web", "web/"},
		},
		{
			desc:   "dir-only pattern leaves files of that name",
			ignore: "main.go/\n",
			want:   []string{".berthignore", "berth.yaml", "bin/", "bin/web", "web/", "web/bin/", "web/bin/x", "web/main.go", "web/main.log", "web/sub/", "web/sub/.git"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			files := map[string]string{
				"berth.yaml":      "name: shop\n",
				".git/HEAD":       "ref: refs/heads/main\n",
				".git/objects/ab": "x",
				"bin/web":         "binary",
				"web/main.go":     "package main\n",
				"web/main.log":    "log",
				"web/bin/x":       "x",
				"web/sub/.git":    "gitdir: ../../.git/modules/sub\n",
			}
			if tt.ignore != "" {
				files[IgnoreFile] = tt.ignore
			}
			writeTree(t, dir, files)
			var buf bytes.Buffer
			if _, err := Pack(dir, &buf); err != nil {
				t.Fatal(err)
			}
			got := names(readArchive(t, buf.Bytes()))
			// web/sub/.git is a submodule's .git file: left out too.
			want := without(tt.want, "web/sub/.git")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("entries = %v\nwant      %v", got, want)
			}
		})
	}
}

func without(s []string, drop string) []string {
	var out []string
	for _, x := range s {
		if x != drop {
			out = append(out, x)
		}
	}
	return out
}

func TestPackBadIgnore(t *testing.T) {
	t.Parallel()
	for _, line := range []string{"!keep.txt", "[", "/"} {
		t.Run(line, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, map[string]string{IgnoreFile: "ok\n" + line + "\n"})
			_, err := Pack(dir, io.Discard)
			if !errors.Is(err, ErrBadIgnore) {
				t.Fatalf("err = %v, want ErrBadIgnore", err)
			}
			if !strings.Contains(err.Error(), ".berthignore:2") {
				t.Errorf("error %q does not name the line", err)
			}
		})
	}
}

func TestPackSymlinks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		files map[string]string
		ok    bool
	}{
		{desc: "inside, relative", files: map[string]string{"a/f": "x", "a/l": "->f"}, ok: true},
		{desc: "inside, up and down", files: map[string]string{"a/f": "x", "b/l": "->../a/f"}, ok: true},
		{desc: "dangling but inside", files: map[string]string{"l": "->missing"}, ok: true},
		{desc: "to the parent", files: map[string]string{"l": "->.."}},
		{desc: "up out of the folder", files: map[string]string{"a/l": "->../../etc/passwd"}},
		{desc: "absolute", files: map[string]string{"l": "->/etc/passwd"}},
		// a/top points at the folder itself; "a/top/.." is lexically a,
		// but really the folder's parent.
		{desc: "through another link", files: map[string]string{"a/top": "->..", "a/esc": "->top/.."}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, tt.files)
			_, err := Pack(dir, io.Discard)
			if tt.ok && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrUnsafeSymlink) {
				t.Fatalf("err = %v, want ErrUnsafeSymlink", err)
			}
		})
	}
}

func TestPackTooLarge(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	big := make([]byte, 64<<10) // random: does not compress
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	writeTree(t, dir, map[string]string{"small.txt": "x", "assets/big.bin": string(big)})
	var buf bytes.Buffer
	_, err := pack(dir, &buf, 32<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if !strings.Contains(err.Error(), "assets/big.bin") || !strings.Contains(err.Error(), ".berthignore") {
		t.Errorf("error %q should name the big file and .berthignore", err)
	}
	if buf.Len() > 32<<10 {
		t.Errorf("wrote %d bytes past the limit", buf.Len())
	}
	if _, err := pack(dir, io.Discard, 1<<20); err != nil {
		t.Errorf("under the limit: %v", err)
	}
}

func TestPackNotAFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"f": "x"})
	for _, p := range []string{filepath.Join(dir, "f"), filepath.Join(dir, "missing")} {
		if _, err := Pack(p, io.Discard); err == nil {
			t.Errorf("Pack(%s) succeeded", p)
		}
	}
}
