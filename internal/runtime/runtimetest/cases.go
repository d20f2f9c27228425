package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

func testApplyReady(t *testing.T, h Harness) {
	rt := h.New(t)
	w := h.Workload(t, "ready", Healthy)
	w.Replicas = 2
	apply(t, rt, w)
	ws := waitReady(t, h, rt, w.ID, 2)

	if ws.ID != w.ID || ws.App != w.App || ws.Service != w.Service || ws.Release != w.Release || ws.Replicas != 2 {
		t.Errorf("status names %s/%s/%s r%d replicas %d, want %s/%s/%s r%d replicas 2",
			ws.ID, ws.App, ws.Service, ws.Release, ws.Replicas, w.ID, w.App, w.Service, w.Release)
	}
	seen := map[string]bool{}
	for i, in := range ws.Instances {
		if in.Index != i {
			t.Errorf("instance %d has index %d", i, in.Index)
		}
		if in.ID == "" || seen[in.ID] {
			t.Errorf("instance ID %q is empty or repeated", in.ID)
		}
		seen[in.ID] = true
		if in.Host == "" || in.Port == 0 {
			t.Errorf("instance %s has no address: host %q port %d", in.ID, in.Host, in.Port)
		}
		if in.Restarts != 0 || in.LastExit != nil {
			t.Errorf("instance %s restarted %d times (last exit %+v), want a clean start", in.ID, in.Restarts, in.LastExit)
		}
	}
	list, err := rt.List(ctxFor(t, 10*time.Second), w.App)
	if err != nil {
		t.Fatalf("List(%s): %v", w.App, err)
	}
	if !slices.ContainsFunc(list, func(s runtime.WorkloadStatus) bool { return s.ID == w.ID }) {
		t.Errorf("List(%s) = %d workloads without %s", w.App, len(list), w.ID)
	}
	other, err := rt.List(ctxFor(t, 10*time.Second), w.App+"-other")
	if err != nil || len(other) != 0 {
		t.Errorf("List(other app) = %d workloads, %v; want none", len(other), err)
	}
}

func testApplyIdempotent(t *testing.T, h Harness) {
	rt := h.New(t)
	w := h.Workload(t, "idem", Healthy)
	w.Replicas = 2
	apply(t, rt, w)
	before := waitReady(t, h, rt, w.ID, 2)
	apply(t, rt, w)
	time.Sleep(500 * time.Millisecond)
	after := waitReady(t, h, rt, w.ID, 2)
	if !maps2Equal(pids(before), pids(after)) {
		t.Errorf("second Apply changed instances: before %v, after %v", pids(before), pids(after))
	}
	for _, in := range after.Instances {
		if in.Restarts != 0 {
			t.Errorf("instance %s restarted %d times after a second Apply", in.ID, in.Restarts)
		}
	}
}

func maps2Equal(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func testScale(t *testing.T, h Harness) {
	rt := h.New(t)
	w := h.Workload(t, "scale", Healthy)
	apply(t, rt, w)
	first := waitReady(t, h, rt, w.ID, 1).Instances[0]

	w.Replicas = 3
	apply(t, rt, w)
	ws := waitReady(t, h, rt, w.ID, 3)
	if got := ws.Instances[0]; got.ID != first.ID || got.PID != first.PID {
		t.Errorf("scaling up replaced instance 0: was %s pid %d, now %s pid %d", first.ID, first.PID, got.ID, got.PID)
	}

	w.Replicas = 1
	apply(t, rt, w)
	eventually(t, h.Timeout, "scale down to 1", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		if len(ws.Instances) != 1 || ws.Replicas != 1 || ws.Ready != 1 {
			return describe(ws)
		}
		if got := ws.Instances[0]; got.ID != first.ID || got.PID != first.PID {
			return fmt.Sprintf("the remaining instance is %s pid %d, want %s pid %d", got.ID, got.PID, first.ID, first.PID)
		}
		return ""
	})
	if h.ProcessGone != nil {
		for _, in := range ws.Instances[1:] {
			eventually(t, h.Timeout, "process of "+in.ID+" to end", func() string {
				if h.ProcessGone(t, in) {
					return ""
				}
				return "still running"
			})
		}
	}
}

func testUnknown(t *testing.T, h Harness) {
	rt := h.New(t)
	ctx := ctxFor(t, 10*time.Second)
	if _, err := rt.Status(ctx, "no-such-workload"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status(unknown) error = %v, want ErrNotFound", err)
	}
	if rc, err := rt.Logs(ctx, "no-such-workload", runtime.LogOptions{}); !errors.Is(err, runtime.ErrNotFound) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Logs(unknown) error = %v, want ErrNotFound", err)
	}
	if err := rt.Delete(ctx, "no-such-workload"); err != nil {
		t.Errorf("Delete(unknown) = %v, want nil", err)
	}
}

func testDelete(t *testing.T, h Harness) {
	rt := h.New(t)
	w := h.Workload(t, "delete", Healthy)
	w.Replicas = 2
	apply(t, rt, w)
	ws := waitReady(t, h, rt, w.ID, 2)

	ctx := ctxFor(t, h.Timeout)
	if err := rt.Delete(ctx, w.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := rt.Status(ctx, w.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Delete: error %v, want ErrNotFound", err)
	}
	list, err := rt.List(ctx, "")
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for _, s := range list {
		if s.ID == w.ID {
			t.Errorf("List after Delete still has %s", w.ID)
		}
	}
	if h.ProcessGone != nil {
		for _, in := range ws.Instances {
			eventually(t, h.Timeout, "process of "+in.ID+" to end", func() string {
				if h.ProcessGone(t, in) {
					return ""
				}
				return fmt.Sprintf("pid %d still running", in.PID)
			})
		}
	}
	if err := rt.Delete(ctx, w.ID); err != nil {
		t.Errorf("second Delete = %v, want nil", err)
	}
}

func testCrashOnStart(t *testing.T, h Harness) {
	skipSimulated(t, h)
	rt := h.New(t)
	w := h.Workload(t, "crash", CrashOnStart)
	apply(t, rt, w)
	eventually(t, h.Timeout, "restarts after crashes", func() string {
		ws := status(t, rt, w.ID)
		if len(ws.Instances) != 1 {
			return describe(ws)
		}
		in := ws.Instances[0]
		if in.Ready || ws.Ready != 0 {
			t.Fatalf("a crashing instance is ready: %s", describe(ws))
		}
		switch {
		case in.Restarts < 2:
			return describe(ws)
		case in.LastExit == nil:
			return "no last exit"
		case in.LastExit.Code != CrashCode:
			return fmt.Sprintf("last exit code %d, want %d", in.LastExit.Code, CrashCode)
		case !slices.Contains(in.LastExit.LogTail, CrashLine):
			return fmt.Sprintf("log tail %q lacks %q", in.LastExit.LogTail, CrashLine)
		case in.LastExit.At.IsZero():
			return "last exit has no time"
		}
		return ""
	})
}

func testUnhealthy(t *testing.T, h Harness) {
	skipSimulated(t, h)
	rt := h.New(t)
	w := h.Workload(t, "unhealthy", Unhealthy)
	apply(t, rt, w)
	var stable int
	eventually(t, h.Timeout, "a message naming the failing check", func() string {
		ws := status(t, rt, w.ID)
		if ws.Ready != 0 || (len(ws.Instances) > 0 && ws.Instances[0].Ready) {
			t.Fatalf("an unhealthy instance became ready: %s", describe(ws))
		}
		if len(ws.Instances) != 1 {
			return describe(ws)
		}
		in := ws.Instances[0]
		if !strings.Contains(in.Message, HealthPath) || in.State != runtime.StateUnhealthy {
			stable = 0
			return describe(ws)
		}
		// Stay unhealthy and unready for a while (about a second).
		if stable++; stable < 20 {
			return "watching it stay unhealthy"
		}
		return ""
	})
}

func testLogs(t *testing.T, h Harness) {
	skipSimulated(t, h)
	rt := h.New(t)
	w := h.Workload(t, "logs", Healthy)
	w.Replicas = 2
	apply(t, rt, w)
	ws := waitReady(t, h, rt, w.ID, 2)
	ids := []string{ws.Instances[0].ID, ws.Instances[1].ID}

	// Every line of every instance, each prefixed with its instance.
	lines := readAll(t, rt, w.ID, runtime.LogOptions{})
	for _, id := range ids {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, "["+id+"] "+ListeningLine) }) {
			t.Errorf("logs of %s lack %q: %q", id, "["+id+"] "+ListeningLine, lines)
		}
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "["+ids[0]+"] ") && !strings.HasPrefix(l, "["+ids[1]+"] ") {
			t.Errorf("line without instance prefix: %q", l)
		}
	}

	// Tail counts lines per instance.
	tail := readAll(t, rt, w.ID, runtime.LogOptions{Instance: ids[1], Tail: 2})
	if len(tail) != 2 {
		t.Errorf("Tail 2 of %s gave %d lines: %q", ids[1], len(tail), tail)
	}
	for _, l := range tail {
		if !strings.HasPrefix(l, "["+ids[1]+"] ") {
			t.Errorf("Tail of %s gave a line of another instance: %q", ids[1], l)
		}
	}
	if _, err := rt.Logs(ctxFor(t, 5*time.Second), w.ID, runtime.LogOptions{Instance: "no-such-instance"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Logs of an unknown instance: error %v, want ErrNotFound", err)
	}

	// Follow delivers what the instances print from now on (the app logs
	// every health check).
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	rc, err := rt.Logs(ctx, w.ID, runtime.LogOptions{Follow: true, Tail: 1})
	if err != nil {
		t.Fatalf("Logs(follow): %v", err)
	}
	defer rc.Close()
	got := map[string]int{}
	ch := readLines(rc)
	for got[ids[0]] < 5 || got[ids[1]] < 5 {
		select {
		case l, ok := <-ch:
			if !ok {
				t.Fatalf("follow ended early; lines per instance so far: %v", got)
			}
			for _, id := range ids {
				if strings.HasPrefix(l, "["+id+"] ") {
					got[id]++
				}
			}
		case <-ctx.Done():
			t.Fatalf("follow: lines per instance after %s: %v, want 5 each", h.Timeout, got)
		}
	}
	rc.Close()

	// One instance asked for, of a workload with one instance: no prefix.
	one := h.Workload(t, "logs-one", Healthy)
	apply(t, rt, one)
	single := waitReady(t, h, rt, one.ID, 1).Instances[0]
	plain := readAll(t, rt, one.ID, runtime.LogOptions{Instance: single.ID})
	if len(plain) == 0 || !strings.HasPrefix(plain[0], ListeningLine) {
		t.Errorf("logs of the only instance: %q, want unprefixed lines starting with %q", plain, ListeningLine)
	}
	all := readAll(t, rt, one.ID, runtime.LogOptions{Tail: 1})
	if len(all) != 1 || !strings.HasPrefix(all[0], "["+single.ID+"] ") {
		t.Errorf("Tail 1 of every instance: %q, want one line prefixed [%s]", all, single.ID)
	}
}

func testWatch(t *testing.T, h Harness) {
	rt := h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events, err := rt.Watch(ctx)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	w := h.Workload(t, "watch", Healthy)
	apply(t, rt, w)
	waitEvent(t, h, events, w.ID, runtime.EventChanged)
	if err := rt.Delete(ctxFor(t, h.Timeout), w.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	waitEvent(t, h, events, w.ID, runtime.EventDeleted)

	cancel()
	deadline := time.After(h.Timeout)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("the event channel stayed open after ctx ended")
		}
	}
}

func waitEvent(t *testing.T, h Harness, events <-chan runtime.Event, id string, typ runtime.EventType) {
	t.Helper()
	deadline := time.After(h.Timeout)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("event channel closed while waiting for %s %s", typ, id)
			}
			if e.WorkloadID == id && e.Type == typ {
				return
			}
		case <-deadline:
			t.Fatalf("no %s event for %s within %s", typ, id, h.Timeout)
		}
	}
}

func testKilledProcess(t *testing.T, h Harness) {
	if h.KillProcess == nil {
		t.Skip("the harness cannot kill an instance's process")
	}
	rt := h.New(t)
	w := h.Workload(t, "kill", Healthy)
	apply(t, rt, w)
	before := waitReady(t, h, rt, w.ID, 1).Instances[0]
	h.KillProcess(t, before)
	eventually(t, h.Timeout, "the killed instance to come back", func() string {
		ws := status(t, rt, w.ID)
		if len(ws.Instances) != 1 {
			return describe(ws)
		}
		in := ws.Instances[0]
		if in.PID == before.PID || in.Restarts < before.Restarts+1 || !in.Ready {
			return describe(ws)
		}
		if in.LastExit == nil || (in.LastExit.Signal == "" && in.LastExit.Code != 137) {
			return fmt.Sprintf("last exit %+v does not say it was killed", in.LastExit)
		}
		return ""
	})
}

// skipSimulated skips a case that needs the test app to really run.
func skipSimulated(t *testing.T, h Harness) {
	t.Helper()
	if h.Simulated {
		t.Skip("instances are simulated (Harness.Simulated): the test app does not run, so its crashes, health answers and output cannot be observed")
	}
}
