package local

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/runtimetest"
)

// TestSpecChangeReplacesInstances: the same workload ID applied with a
// different spec gets new instances (what runs must match what was asked).
func TestSpecChangeReplacesInstances(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "change", runtimetest.Healthy)
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	before := waitReady(t, rt, w.ID, 1).Instances[0]
	w.Env = map[string]string{"NEW_SETTING": "1"}
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a replaced instance", func() string {
		ws := mustStatus(t, rt, w.ID)
		if len(ws.Instances) != 1 || ws.Instances[0].PID == before.PID || !ws.Instances[0].Ready {
			return describe(ws)
		}
		return ""
	})
	is, err := readInstanceSpec(rt.layout.instance(w.ID, 0))
	if err != nil || is.Env["NEW_SETTING"] != "1" {
		t.Errorf("new instance env %v, %v", is.Env, err)
	}
}

// TestCloseEndsStreams: Close ends Watch channels and Logs streams, and
// leaves instances running.
func TestCloseEndsStreams(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "")
	w := suiteWorkload(t, "close", runtimetest.Healthy)
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	in := waitReady(t, rt, w.ID, 1).Instances[0]
	events, err := rt.Watch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logs, err := rt.Logs(context.Background(), w.ID, runtime.LogOptions{Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, logs)
		done <- err
	}()
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("follow ended with %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Logs(follow) still open after Close")
	}
	for range events {
	}
	if _, alive := procStartTime(in.PID); !alive {
		t.Error("Close stopped an instance")
	}
	if err := rt.Apply(t.Context(), w); err != ErrClosed {
		t.Errorf("Apply after Close: %v, want ErrClosed", err)
	}
}

// TestStopAll stops what a dead server left running.
func TestStopAll(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rt := newTestRuntime(t, dir)
	w := suiteWorkload(t, "stopall", runtimetest.Healthy)
	w.Replicas = 2
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	ws := waitReady(t, rt, w.ID, 2)
	rt.Close()
	if err := StopAll(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	for _, in := range ws.Instances {
		if _, alive := procStartTime(in.PID); alive {
			t.Errorf("instance %s (pid %d) still runs", in.ID, in.PID)
		}
		if shimAlive(rt.layout.instance(w.ID, in.Index)) {
			t.Errorf("the shim of %s still runs", in.ID)
		}
	}
}
