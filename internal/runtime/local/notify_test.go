package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime/runtimetest"
)

// TestNotifyWakesWatchers sets the poll interval to an hour: the only way a
// watcher learns that an instance became ready is the shim's notification.
func TestNotifyWakesWatchers(t *testing.T) {
	t.Parallel()
	rt := newTestRuntime(t, "", func(o *Options) { o.PollInterval = time.Hour })
	if rt.notifyPath == "" {
		t.Skip("state notifications are off here (socket path too long)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events, err := rt.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w := suiteWorkload(t, "notify", runtimetest.Healthy)
	if err := rt.Apply(ctx, w); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case <-ctx.Done():
			t.Fatal("no event said the instance is ready, with polling off")
		case e := <-events:
			if e.WorkloadID != w.ID {
				continue
			}
			st := mustStatus(t, rt, w.ID)
			if st.Ready == 1 {
				return
			}
		}
	}
}

// TestNotifySocketLifecycle: Close removes the socket, and a socket left by
// a server that died does not stop the next one from listening.
func TestNotifySocketLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sock := filepath.Join(dir, fileNotify)
	if err := os.WriteFile(sock, nil, 0o600); err != nil { // a stale leftover
		t.Fatal(err)
	}
	rt, err := New(context.Background(), testOptions(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if rt.notifyPath == "" {
		t.Skip("state notifications are off here (socket path too long)")
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("notify socket not listening: %v %v", fi, err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Fatalf("socket left after Close: %v", err)
	}
}
