package deploy

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestRunConverges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.rt.autoReady = true
	e.r.opts.Requeue = 10 * time.Millisecond
	e.r.opts.Resync = 50 * time.Millisecond
	e.r.opts.Now = time.Now

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.r.Run(ctx) }()

	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(1)}))
	e.r.Notify("shop")
	running := func(rel int) func() bool {
		return func() bool {
			a, err := e.st.GetApp(context.Background(), "shop")
			return err == nil && a.Status.Phase == api.PhaseRunning && a.Status.Serving == rel
		}
	}
	waitFor(t, "release 1 running", running(1))

	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(1)})
	v2.Services["api"].Env = map[string]string{"V": "2"}
	e.apply(v2)
	// No Notify: the periodic resync finds it.
	waitFor(t, "release 2 running", running(2))

	// Drift is repaired: a workload that disappears is brought back.
	e.rt.mu.Lock()
	delete(e.rt.wls, "shop-web-r2")
	e.rt.mu.Unlock()
	waitFor(t, "drift repaired", func() bool { return e.rt.replicas("shop-web-r2") == 2 })

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestQueue(t *testing.T) {
	t.Parallel()
	q := newQueue()
	q.add("a")
	q.add("a")
	q.add("b")
	k, _ := q.get()
	if k != "a" {
		t.Fatalf("got %q", k)
	}
	// Notified while held: not handed to another worker, queued again on done.
	q.add("a")
	k2, _ := q.get()
	if k2 != "b" {
		t.Fatalf("got %q, want b (a is held)", k2)
	}
	got := make(chan string, 1)
	go func() {
		k, ok := q.get()
		if ok {
			got <- k
		}
	}()
	select {
	case k := <-got:
		t.Fatalf("got %q while a is held", k)
	case <-time.After(50 * time.Millisecond):
	}
	q.done("a")
	if k := <-got; k != "a" {
		t.Fatalf("got %q", k)
	}
	q.done("a")
	q.done("b")

	q.addAfter("c", 20*time.Millisecond)
	q.addAfter("c", time.Hour) // a later due time does not postpone it
	start := time.Now()
	if k, _ := q.get(); k != "c" || time.Since(start) > time.Second {
		t.Fatalf("delayed get %q after %v", k, time.Since(start))
	}
	q.done("c")

	var wg sync.WaitGroup
	var stopped atomic.Int32
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := q.get(); !ok {
				stopped.Add(1)
			}
		}()
	}
	q.stop()
	wg.Wait()
	if stopped.Load() != 3 {
		t.Fatal("workers not released by stop")
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1), "db": svc(1)}))
	e.settle("shop")
	v2 := appSpec("shop", map[string]*spec.Service{"web": svc(1), "db": svc(1)})
	v2.Services["web"].Env = map[string]string{"V": "2"}
	e.apply(v2)
	e.pass("shop") // r1 and r2 of web both run
	e.rt.logs["shop-web-r1"] = "old 1\nold 2\n"
	e.rt.logs["shop-web-r2"] = "new 1\nnew 2"
	e.rt.logs["shop-db-r1"] = "db\n"

	read := func(opts runtime.LogOptions) string {
		t.Helper()
		rc, err := e.r.Logs(e.ctx, "shop", "web", opts)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if got := read(runtime.LogOptions{}); got != "old 1\nold 2\nnew 1\nnew 2" {
		t.Fatalf("concatenated %q", got)
	}
	got := read(runtime.LogOptions{Follow: true})
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 4 || !strings.HasSuffix(got, "\n") {
		t.Fatalf("merged %q", got)
	}
	if got := read(runtime.LogOptions{Instance: "shop-web-r2-0"}); got != "new 1\nnew 2" {
		t.Fatalf("one instance %q", got)
	}
	for _, tc := range []struct {
		desc, svc string
		opts      runtime.LogOptions
	}{
		{desc: "unknown service", svc: "nope"},
		{desc: "unknown instance", svc: "web", opts: runtime.LogOptions{Instance: "x"}},
	} {
		if _, err := e.r.Logs(e.ctx, "shop", tc.svc, tc.opts); !errors.Is(err, ErrNotFound) {
			t.Fatalf("%s: err = %v", tc.desc, err)
		}
	}
}

// A followed merge ends its goroutines when closed, even if the sources
// never end on their own.
func TestLogsFollowClose(t *testing.T) {
	t.Parallel()
	r1, w1 := io.Pipe()
	r2, w2 := io.Pipe()
	m := mergeLines([]io.ReadCloser{r1, r2})
	go w1.Write([]byte("a\n"))
	buf := make([]byte, 10)
	n, err := m.Read(buf)
	if err != nil || string(buf[:n]) != "a\n" {
		t.Fatalf("read %q %v", buf[:n], err)
	}
	done := make(chan struct{})
	go func() { m.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close hangs")
	}
	w1.Close()
	w2.Close()
}
