package runtimetest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func apply(t *testing.T, rt runtime.Runtime, w runtime.Workload) {
	t.Helper()
	if err := rt.Apply(ctxFor(t, 10*time.Second), w); err != nil {
		t.Fatalf("Apply(%s, replicas %d): %v", w.ID, w.Replicas, err)
	}
}

func status(t *testing.T, rt runtime.Runtime, id string) runtime.WorkloadStatus {
	t.Helper()
	ws, err := rt.Status(ctxFor(t, 10*time.Second), id)
	if err != nil {
		t.Fatalf("Status(%s): %v", id, err)
	}
	return ws
}

// eventually polls cond until it returns "" (done) or timeout passes; then
// the test fails with the last thing cond said.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		if last = cond(); last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s: %s", timeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitReady waits until the workload has exactly replicas instances, all
// ready and running, and returns its status.
func waitReady(t *testing.T, h Harness, rt runtime.Runtime, id string, replicas int) runtime.WorkloadStatus {
	t.Helper()
	var ws runtime.WorkloadStatus
	eventually(t, h.Timeout, fmt.Sprintf("%d ready instances of %s", replicas, id), func() string {
		var err error
		ws, err = rt.Status(context.Background(), id)
		if err != nil {
			return err.Error()
		}
		if ws.Ready != replicas || len(ws.Instances) != replicas {
			return fmt.Sprintf("ready %d, instances %d: %s", ws.Ready, len(ws.Instances), describe(ws))
		}
		for _, in := range ws.Instances {
			if !in.Ready || in.State != runtime.StateRunning {
				return describe(ws)
			}
		}
		return ""
	})
	return ws
}

func describe(ws runtime.WorkloadStatus) string {
	var b strings.Builder
	for _, in := range ws.Instances {
		fmt.Fprintf(&b, "[%s %s ready=%v pid=%d restarts=%d %q] ", in.ID, in.State, in.Ready, in.PID, in.Restarts, in.Message)
	}
	return b.String()
}

// pids maps instance ID to PID.
func pids(ws runtime.WorkloadStatus) map[string]int {
	m := map[string]int{}
	for _, in := range ws.Instances {
		m[in.ID] = in.PID
	}
	return m
}

// readLines reads rc's lines in the background; the channel closes at the
// end of the stream. The caller closes rc.
func readLines(rc io.Reader) <-chan string {
	ch := make(chan string, 1024)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(rc)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

func readAll(t *testing.T, rt runtime.Runtime, id string, opts runtime.LogOptions) []string {
	t.Helper()
	rc, err := rt.Logs(ctxFor(t, 10*time.Second), id, opts)
	if err != nil {
		t.Fatalf("Logs(%s, %+v): %v", id, opts, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
