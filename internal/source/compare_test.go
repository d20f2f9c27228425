package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// SameExcept tells two archives of the same code with another berth.yaml
// from archives whose code differs in any way.
func TestSameExcept(t *testing.T) {
	t.Parallel()
	base := map[string]string{"berth.yaml": "name: shop\n", "main.go": "package main\n", "lib/a.go": "package lib\n", "link": "->main.go"}
	tests := []struct {
		desc   string
		change func(t *testing.T, dir string)
		want   bool
	}{
		{desc: "nothing changed", change: func(*testing.T, string) {}, want: true},
		{desc: "berth.yaml changed", change: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"berth.yaml": "name: shop\npipeline: {}\n"})
		}, want: true},
		{desc: "berth.yml added", change: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"berth.yml": "name: shop\n"})
		}, want: true},
		{desc: "a file's content changed", change: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"main.go": "package main // v2\n"})
		}},
		{desc: "a berth.yaml below the top is code", change: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"lib/berth.yaml": "x\n"})
		}},
		{desc: "a file added", change: func(t *testing.T, dir string) {
			writeTree(t, dir, map[string]string{"lib/b.go": "package lib\n"})
		}},
		{desc: "a file removed", change: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "lib", "a.go")); err != nil {
				t.Fatal(err)
			}
		}},
		{desc: "a file made executable", change: func(t *testing.T, dir string) {
			if err := os.Chmod(filepath.Join(dir, "main.go"), 0o755); err != nil {
				t.Fatal(err)
			}
		}},
		{desc: "a link pointed elsewhere", change: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			writeTree(t, dir, map[string]string{"link": "->lib/a.go"})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			writeTree(t, dir, base)
			var before, after bytes.Buffer
			if _, err := Pack(dir, &before); err != nil {
				t.Fatal(err)
			}
			tt.change(t, dir)
			if _, err := Pack(dir, &after); err != nil {
				t.Fatal(err)
			}
			got, err := SameExcept(bytes.NewReader(before.Bytes()), bytes.NewReader(after.Bytes()), "berth.yaml", "berth.yml")
			if err != nil || got != tt.want {
				t.Errorf("SameExcept = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := SameExcept(bytes.NewReader([]byte("not gzip")), bytes.NewReader(nil)); err == nil {
		t.Error("SameExcept of something that is not an archive: no error")
	}
}

// BenchmarkSameExcept compares two archives of 32 files of 1 MiB of
// random bytes (incompressible: the archive is as large as the files),
// the work an apply does (before its transaction, release.Precompared)
// for a pipeline-only change of such an app.
func BenchmarkSameExcept(b *testing.B) {
	dir := b.TempDir()
	buf := make([]byte, 1<<20)
	for i := range 32 {
		_, _ = rand.Read(buf)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	var before, after bytes.Buffer
	if _, err := Pack(dir, &before); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "berth.yaml"), []byte("name: x\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := Pack(dir, &after); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(before.Len() + after.Len()))
	for b.Loop() {
		same, err := SameExcept(bytes.NewReader(before.Bytes()), bytes.NewReader(after.Bytes()), "berth.yaml")
		if err != nil || !same {
			b.Fatalf("SameExcept = %v, %v", same, err)
		}
	}
}

// bomb is a Pack-like archive: berth.yaml holding spec, then one file of
// size zeros, which gzip shrinks about a thousandfold.
func bomb(t *testing.T, spec string, size int64) []byte {
	t.Helper()
	var b bytes.Buffer
	gz, err := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for _, f := range []struct {
		name string
		size int64
		r    io.Reader
	}{
		{"berth.yaml", int64(len(spec)), strings.NewReader(spec)},
		{"zeros.bin", size, io.LimitReader(zeroReader{}, size)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: tar.TypeReg, Mode: 0o644, Size: f.size, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, f.r); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Two archives well within the upload cap that unpack to more than
// MaxCompareBytes each are not read to their end: the comparison gives up
// at the header (ErrCompareTooLarge), so the caller rolls out instead of
// hashing gigabytes while an apply or a rollback waits.
func TestSameExceptGivesUpOnABomb(t *testing.T) {
	t.Parallel()
	a := bomb(t, "name: shop\n", MaxCompareBytes+1)
	b := bomb(t, "name: shop\npipeline: {}\n", MaxCompareBytes+1)
	if len(a) >= MaxArchiveSize || len(b) >= MaxArchiveSize {
		t.Fatalf("the archives are %d and %d bytes: not within the upload cap", len(a), len(b))
	}
	start := time.Now()
	same, err := SameExcept(bytes.NewReader(a), bytes.NewReader(b), "berth.yaml")
	if !errors.Is(err, ErrCompareTooLarge) || same {
		t.Fatalf("SameExcept = %v, %v; want ErrCompareTooLarge", same, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("giving up took %v: the content was read", d)
	}
}

// The caps count every entry and every byte of an archive, skipped ones
// too, and an archive exactly at them still compares.
func TestSameExceptCaps(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"berth.yaml": "name: shop\n", "a": "12345", "b": "67890"})
	var arch bytes.Buffer
	if _, err := Pack(dir, &arch); err != nil {
		t.Fatal(err)
	}
	// Pack's archive: three regular files of 11 + 5 + 5 bytes, no folders.
	tests := []struct {
		desc    string
		lim     compareLimits
		tooMuch bool
	}{
		{desc: "exactly at both caps", lim: compareLimits{bytes: 21, entries: 3}},
		{desc: "one byte short, in the last file", lim: compareLimits{bytes: 20, entries: 3}, tooMuch: true},
		{desc: "the skipped berth.yaml counts", lim: compareLimits{bytes: 10, entries: 3}, tooMuch: true},
		{desc: "one entry short", lim: compareLimits{bytes: 21, entries: 2}, tooMuch: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			same, err := sameExcept(bytes.NewReader(arch.Bytes()), bytes.NewReader(arch.Bytes()), tt.lim, []string{"berth.yaml"})
			switch {
			case tt.tooMuch && (!errors.Is(err, ErrCompareTooLarge) || same):
				t.Errorf("sameExcept = %v, %v; want ErrCompareTooLarge", same, err)
			case !tt.tooMuch && (err != nil || !same):
				t.Errorf("sameExcept = %v, %v; want the same", same, err)
			}
		})
	}
}
