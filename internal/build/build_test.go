package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
)

// entry is one tar member for test archives.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}

func tarGz(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body))}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			if _, err := tw.Write([]byte(e.body)); err != nil {
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

func put(t *testing.T, blobs blob.Store, data []byte) string {
	t.Helper()
	sum := sha256.Sum256(data)
	d := "sha256:" + hex.EncodeToString(sum[:])
	if err := blobs.Put(t.Context(), d, bytes.NewReader(data), 1<<30); err != nil {
		t.Fatal(err)
	}
	return d
}

func newBuilder(t *testing.T) (*Builder, *blob.Dir) {
	t.Helper()
	blobs, err := blob.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(filepath.Join(t.TempDir(), "builds"), blobs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b, blobs
}

// Not parallel: it sets a server variable that must not reach the build.
func TestBuildRunsCommandInServiceDir(t *testing.T) {
	b, blobs := newBuilder(t)
	src := put(t, blobs, tarGz(t,
		entry{name: "web/", typ: tar.TypeDir},
		file("web/in.txt", "hello"),
		entry{name: "web/run.sh", body: "#!/bin/sh\necho run\n", typ: tar.TypeReg, mode: 0o755},
		entry{name: "web/alias", link: "in.txt", typ: tar.TypeSymlink},
	))
	req := Request{App: "shop", Service: "web", Source: src, Dir: "web",
		Command: `cat in.txt > out.txt && echo "$GREETING from $(pwd)" && test -z "$SECRET_FROM_SERVER"`,
		Env:     map[string]string{"GREETING": "hi"}}
	t.Setenv("SECRET_FROM_SERVER", "leak") // must not reach the build
	res, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != Key(src, "web", req.Command) {
		t.Errorf("key = %s", res.Key)
	}
	if !filepath.IsAbs(res.Dir) || filepath.Base(res.Dir) != "web" {
		t.Errorf("dir = %s", res.Dir)
	}
	out, err := os.ReadFile(filepath.Join(res.Dir, "out.txt"))
	if err != nil || string(out) != "hello" {
		t.Fatalf("out.txt = %q, %v", out, err)
	}
	if fi, err := os.Stat(filepath.Join(res.Dir, "run.sh")); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Errorf("run.sh lost its execute bit: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(filepath.Join(res.Dir, "alias")); string(got) != "hello" {
		t.Errorf("symlink alias reads %q", got)
	}
	if !strings.Contains(res.Log, "hi from "+res.Dir) {
		t.Errorf("log = %q", res.Log)
	}
}

func TestBuildIsCachedByKey(t *testing.T) {
	t.Parallel()
	b, blobs := newBuilder(t)
	src := put(t, blobs, tarGz(t, file("a.txt", "a")))
	counter := filepath.Join(t.TempDir(), "runs")
	req := Request{App: "a", Service: "s", Source: src, Command: "echo x >> " + counter}

	// Concurrent first builds of one key run the command once.
	var wg sync.WaitGroup
	results := make([]Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = b.Build(context.Background(), req)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].Dir != results[0].Dir {
			t.Errorf("build %d dir %s != %s", i, results[i].Dir, results[0].Dir)
		}
	}
	// Another app with the same inputs reuses the build too.
	req.App = "other"
	if _, err := b.Build(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	runs, _ := os.ReadFile(counter)
	if n := strings.Count(string(runs), "x"); n != 1 {
		t.Fatalf("command ran %d times, want 1", n)
	}
	// A different command is a different build.
	req.Command = "echo y >> " + counter
	res, err := b.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Key == results[0].Key {
		t.Error("different command, same key")
	}
}

func TestBuildFailureAndRetry(t *testing.T) {
	t.Parallel()
	b, _ := newBuilder(t)
	flag := filepath.Join(t.TempDir(), "ok")
	req := Request{App: "a", Service: "s", Command: "echo compiling; echo 'main.go:3: undefined: x' >&2; test -e " + flag + " || exit 3"}
	_, err := b.Build(context.Background(), req)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want *BuildError", err)
	}
	if be.ExitCode != 3 || len(be.LogTail) != 2 || be.LogTail[1] != "main.go:3: undefined: x" {
		t.Fatalf("build error = %+v", be)
	}
	if !strings.Contains(be.Error(), "exited with code 3") {
		t.Errorf("message %q", be.Error())
	}
	// A failed build is not cached: fixing the cause and retrying works.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(context.Background(), req); err != nil {
		t.Fatalf("retry: %v", err)
	}
}

func TestBuildCancelKillsProcessGroup(t *testing.T) {
	t.Parallel()
	b, _ := newBuilder(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		// The sleep is a grandchild: sh forks it, so only a group kill stops it.
		_, err := b.Build(ctx, Request{App: "a", Command: "sleep 30 & echo $! > " + pidFile + "; wait"})
		done <- err
	}()
	var pid string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if data, _ := os.ReadFile(pidFile); len(data) > 0 && strings.HasSuffix(string(data), "\n") {
			pid = strings.TrimSpace(string(data))
			break
		}
	}
	if pid == "" {
		t.Fatal("build did not start")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("build not stopped on cancel")
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("cancel took %v", time.Since(start))
	}
	// The grandchild is gone (or a zombie being reaped by init).
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		stat, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(stat), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep %s still running", pid)
		}
	}
}

func TestBuildNothingToBuild(t *testing.T) {
	t.Parallel()
	b, _ := newBuilder(t)
	res, err := b.Build(context.Background(), Request{App: "shop", Service: "web"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Key != "" {
		t.Errorf("key = %q, want none", res.Key)
	}
	entries, err := os.ReadDir(res.Dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("dir %s: %v %v", res.Dir, entries, err)
	}
	res2, err := b.Build(context.Background(), Request{App: "other", Service: "web"})
	if err != nil || res2.Dir == res.Dir {
		t.Fatalf("per-app dir: %s vs %s (%v)", res2.Dir, res.Dir, err)
	}
}

func TestBuildBadRequest(t *testing.T) {
	t.Parallel()
	b, blobs := newBuilder(t)
	src := put(t, blobs, tarGz(t, file("a.txt", "a")))
	tests := []struct {
		desc  string
		req   Request
		field string
		want  error
	}{
		{desc: "dir escapes", req: Request{App: "a", Source: src, Dir: "../x"}, field: "dir:", want: ErrInvalidRequest},
		{desc: "absolute dir", req: Request{App: "a", Source: src, Dir: "/etc"}, field: "dir:", want: ErrInvalidRequest},
		{desc: "dir not in source", req: Request{App: "a", Source: src, Dir: "missing"}, field: "dir:", want: ErrInvalidRequest},
		{desc: "bad digest", req: Request{App: "a", Source: "md5:1"}, field: "source:", want: ErrInvalidRequest},
		{desc: "app with slash", req: Request{App: "a/b"}, field: "app:", want: ErrInvalidRequest},
		{desc: "unknown source", req: Request{App: "a", Source: "sha256:" + strings.Repeat("0", 64)}, want: ErrSourceNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			_, err := b.Build(context.Background(), tc.req)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.want, tc.field)
			}
		})
	}
}

func TestBuildRefusesUnsafeArchives(t *testing.T) {
	t.Parallel()
	b, blobs := newBuilder(t)
	// outside is a folder next to the builds folder; nothing may appear in it.
	outside := filepath.Join(filepath.Dir(b.dir), "outside")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc    string
		entries []entry
	}{
		{desc: "dot-dot path", entries: []entry{file("../../outside/pwned", "x")}},
		{desc: "nested dot-dot", entries: []entry{file("a/../../../outside/pwned", "x")}},
		{desc: "absolute path", entries: []entry{file("/tmp/pwned", "x")}},
		{desc: "absolute symlink", entries: []entry{{name: "l", link: outside, typ: tar.TypeSymlink}}},
		{desc: "relative symlink out", entries: []entry{{name: "l", link: "../../../outside", typ: tar.TypeSymlink}}},
		{desc: "write through symlink", entries: []entry{
			{name: "l", link: ".", typ: tar.TypeSymlink},
			file("l/x", "x"),
		}},
		{desc: "symlink chain out", entries: []entry{
			{name: "a", link: ".", typ: tar.TypeSymlink},
			{name: "b", link: "a/..", typ: tar.TypeSymlink},
		}},
		{desc: "hard link out", entries: []entry{{name: "h", link: "../../outside/x", typ: tar.TypeLink}}},
		{desc: "overwrite via duplicate", entries: []entry{
			{name: "l", link: "x", typ: tar.TypeSymlink},
			file("l", "x"),
		}},
		{desc: "char device", entries: []entry{{name: "null", typ: tar.TypeChar}}},
		{desc: "fifo", entries: []entry{{name: "p", typ: tar.TypeFifo}}},
	}
	// The group returns once its parallel subtests are done, so the check
	// after it sees everything they wrote.
	t.Run("group", func(t *testing.T) {
		for _, tc := range tests {
			t.Run(tc.desc, func(t *testing.T) {
				t.Parallel()
				src := put(t, blobs, tarGz(t, tc.entries...))
				_, err := b.Build(context.Background(), Request{App: "a", Source: src, Command: "true"})
				if !errors.Is(err, ErrUnsafeArchive) {
					t.Fatalf("err = %v, want ErrUnsafeArchive", err)
				}
			})
		}
	})
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Fatalf("files appeared outside: %v", entries)
	}
}

func TestBuildArchiveCaps(t *testing.T) {
	t.Parallel()
	b, blobs := newBuilder(t)
	b.SetLimits(10, 3)
	tests := []struct {
		desc    string
		entries []entry
		want    string
	}{
		{desc: "too big", entries: []entry{file("a", "0123456789x")}, want: "more than 10 bytes"},
		{desc: "too many files", entries: []entry{file("a", ""), file("b", ""), file("c", ""), file("d", "")}, want: "more than 3 entries"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			src := put(t, blobs, tarGz(t, tc.entries...))
			_, err := b.Build(context.Background(), Request{App: "a", Source: src})
			if !errors.Is(err, ErrUnsafeArchive) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The main use: a Go service built from its source with the server's Go
// caches.
func TestBuildGoProgram(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not on PATH")
	}
	b, blobs := newBuilder(t)
	src := put(t, blobs, tarGz(t,
		file("hello/go.mod", "module example.com/hello\n\ngo 1.22\n"),
		file("hello/main.go", "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from berth\") }\n"),
	))
	res, err := b.Build(context.Background(), Request{App: "a", Service: "hello", Source: src, Dir: "hello", Command: "go build -o bin/hello ."})
	if err != nil {
		var be *BuildError
		if errors.As(err, &be) {
			t.Fatalf("%v\n%s", err, strings.Join(be.LogTail, "\n"))
		}
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(res.Dir, "bin", "hello")).Output()
	if err != nil || string(out) != "hello from berth\n" {
		t.Fatalf("run: %q %v", out, err)
	}
}
