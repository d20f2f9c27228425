package local

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

func TestRotatingWriter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "out.log")
	w, err := openRotating(path, 100, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		fmt.Fprintf(w, "line %02d %s\n", i, strings.Repeat("x", 20)) // 30 bytes
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("late\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close: %v, want ErrClosed", err)
	}
	var all []byte
	for i := 2; i >= 0; i-- {
		b, err := os.ReadFile(rotatedName(path, i))
		if err != nil {
			t.Fatalf("file %d: %v", i, err)
		}
		if len(b) > 100 {
			t.Errorf("file %d has %d bytes, want at most 100", i, len(b))
		}
		all = append(all, b...)
	}
	if _, err := os.Stat(rotatedName(path, 3)); err == nil {
		t.Error("a fourth file was kept")
	}
	// 3 lines fit a file: the current one holds 18-19, the older ones
	// 15-17 and 12-14, in order and whole.
	lines := strings.Split(strings.TrimSuffix(string(all), "\n"), "\n")
	if len(lines) != 8 || !strings.HasPrefix(lines[0], "line 12 ") || !strings.HasPrefix(lines[7], "line 19 ") {
		t.Errorf("kept lines %q", lines)
	}
}

func TestCopyLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, in, out string
		tail          []string
	}{
		{desc: "whole lines", in: "a\nb\n", out: "a\nb\n", tail: []string{"a", "b"}},
		{desc: "no final newline gets one", in: "a\nb", out: "a\nb\n", tail: []string{"a", "b"}},
		{desc: "empty", in: "", out: "", tail: nil},
		{desc: "ring keeps the last lines", in: "1\n2\n3\n4\n", out: "1\n2\n3\n4\n", tail: []string{"2", "3", "4"}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			ring := &lineRing{max: 3}
			copyLines(&out, strings.NewReader(tc.in), ring)
			if out.String() != tc.out {
				t.Errorf("copied %q, want %q", out.String(), tc.out)
			}
			if got := ring.snapshot(); fmt.Sprint(got) != fmt.Sprint(tc.tail) {
				t.Errorf("tail %q, want %q", got, tc.tail)
			}
		})
	}
}

func TestLastLines(t *testing.T) {
	t.Parallel()
	var content strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&content, "line %d\n", i)
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte(content.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	fi, _ := f.Stat()
	tests := []struct {
		desc        string
		n           int
		size        int64
		first, last string
		count       int
	}{
		{desc: "a few", n: 3, size: fi.Size(), first: "line 4997", last: "line 4999", count: 3},
		{desc: "more than a chunk", n: 4000, size: fi.Size(), first: "line 1000", last: "line 4999", count: 4000},
		{desc: "more than there are", n: 9000, size: fi.Size(), first: "line 0", last: "line 4999", count: 5000},
		{desc: "up to an offset", n: 2, size: int64(len("line 0\nline 1\nline 2\n")), first: "line 1", last: "line 2", count: 2},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			lines, err := lastLines(f, tc.size, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if len(lines) != tc.count || string(lines[0]) != tc.first || string(lines[len(lines)-1]) != tc.last {
				t.Errorf("got %d lines %q..%q, want %d %q..%q", len(lines), lines[0], lines[len(lines)-1], tc.count, tc.first, tc.last)
			}
		})
	}
}

func TestValidateWorkload(t *testing.T) {
	t.Parallel()
	ok := runtime.Workload{ID: "shop-web-r1", Replicas: 1, Spec: spec.Service{Command: []string{"sh"}}}
	tests := []struct {
		desc  string
		edit  func(w *runtime.Workload)
		field string // "" when valid
	}{
		{desc: "valid", edit: func(*runtime.Workload) {}},
		{desc: "ID with a slash", edit: func(w *runtime.Workload) { w.ID = "a/b" }, field: "workload.id"},
		{desc: "ID dot-dot", edit: func(w *runtime.Workload) { w.ID = ".." }, field: "workload.id"},
		{desc: "negative replicas", edit: func(w *runtime.Workload) { w.Replicas = -1 }, field: "workload.replicas"},
		{desc: "no command", edit: func(w *runtime.Workload) { w.Spec.Command = nil }, field: "workload.spec.command"},
		{desc: "relative dir", edit: func(w *runtime.Workload) { w.Dir = "build" }, field: "workload.dir"},
		{desc: "bad memory", edit: func(w *runtime.Workload) { w.Spec.Resources.Memory = "lots" }, field: "workload.spec.resources.memory"},
		{desc: "bad cpu", edit: func(w *runtime.Workload) { w.Spec.Resources.CPU = "fast" }, field: "workload.spec.resources.cpu"},
		{desc: "two checks", edit: func(w *runtime.Workload) {
			w.Spec.Health = &spec.Health{HTTP: &spec.HTTPCheck{}, TCP: &spec.TCPCheck{}}
		}, field: "workload.spec.health"},
		{desc: "relative volume", edit: func(w *runtime.Workload) { w.Volumes = map[string]string{"data": "d"} }, field: "workload.volumes.data"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			w := ok
			tc.edit(&w)
			err := validateWorkload(w)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid workload refused: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidWorkload) || !strings.Contains(err.Error(), tc.field+":") {
				t.Errorf("error %v, want ErrInvalidWorkload naming %s", err, tc.field)
			}
		})
	}
}

func TestApplyRefusesBadInput(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := testProgWorkload(t, "nope", "spam", nil)
	w.Spec.Command = []string{"no-such-program-berth-test"}
	err := rt.Apply(t.Context(), w)
	if !errors.Is(err, ErrInvalidWorkload) || !strings.Contains(err.Error(), "workload.spec.command[0]") {
		t.Fatalf("Apply with a missing program: %v", err)
	}
	if _, err := rt.Status(t.Context(), w.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("a refused workload was recorded: Status error %v", err)
	}
}

func TestResolveCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh in PATH")
	}
	sh, _ = filepath.Abs(sh)
	tests := []struct{ desc, name, want string }{
		{desc: "absolute", name: "/bin/true", want: "/bin/true"},
		{desc: "dot slash", name: "./bin/web", want: filepath.Join(dir, "bin/web")},
		{desc: "relative with slash", name: "bin/web", want: filepath.Join(dir, "bin/web")},
		{desc: "bare name in dir", name: "app", want: filepath.Join(dir, "app")},
		{desc: "bare name in PATH", name: "sh", want: sh},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got, err := resolveCommand(tc.name, dir)
			if err != nil || got != tc.want {
				t.Errorf("resolveCommand(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
			}
		})
	}
	if _, err := resolveCommand("no-such-program-berth-test", dir); err == nil {
		t.Error("a missing program resolved")
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := backoff(time.Second, 30*time.Second, i+1); got != w {
			t.Errorf("backoff after %d failures = %s, want %s", i+1, got, w)
		}
	}
}

func TestProcIdentity(t *testing.T) {
	t.Parallel()
	start, ok := procStartTime(os.Getpid())
	if !ok || start == 0 {
		t.Fatalf("own start time: %d %v", start, ok)
	}
	if !sameProcess(os.Getpid(), start) {
		t.Error("this process is not itself")
	}
	if sameProcess(os.Getpid(), start+1) {
		t.Error("a different start time matched: a reused PID would be taken for the old process")
	}
	cmd := exec.Command("sleep", "0")
	if err := cmd.Run(); err != nil {
		t.Skip("no sleep:", err)
	}
	if _, ok := procStartTime(cmd.Process.Pid); ok {
		t.Error("an ended process is alive")
	}
}

func TestWatchCoalesces(t *testing.T) {
	t.Parallel()
	var h watchHub
	h.init()
	w := &watcher{wake: make(chan struct{}, 1)}
	h.watchers[w] = struct{}{}
	ws := func(id, msg string) runtime.WorkloadStatus {
		return runtime.WorkloadStatus{ID: id, App: "a", Instances: []runtime.Instance{{Message: msg}}}
	}
	h.baseline(map[string]runtime.WorkloadStatus{"x": ws("x", "1")})
	h.publish(map[string]runtime.WorkloadStatus{"x": ws("x", "1")}) // no change
	if _, ok := w.pop(); ok {
		t.Fatal("an event without a change")
	}
	h.publish(nil) // unreadable: no change, and nothing deleted
	h.publish(map[string]runtime.WorkloadStatus{"x": ws("x", "2"), "y": ws("y", "")})
	h.publish(map[string]runtime.WorkloadStatus{"x": ws("x", "3"), "y": ws("y", "")})
	h.publish(map[string]runtime.WorkloadStatus{"y": ws("y", "")})
	var got []string
	for {
		e, ok := w.pop()
		if !ok {
			break
		}
		got = append(got, string(e.Type)+" "+e.WorkloadID)
	}
	slices.Sort(got)
	if want := []string{"changed y", "deleted x"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %q, want %q (one per workload, the latest)", got, want)
	}
}
