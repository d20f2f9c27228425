package source

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
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
