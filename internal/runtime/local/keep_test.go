package local

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// A workload applied again with only its release numbers changed (what a
// pipeline-only release hands the runtime) keeps the same process: no
// restart, no reload signal, even for a service that reloads live; the
// status reports the new release. Instances made before KeepHash was
// recorded are kept too. Any other change still replaces the process.
func TestKeepOnReleaseNumbersOnly(t *testing.T) {
	t.Parallel()
	live := &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGHUP"}
	tests := []struct {
		desc   string
		config *spec.ServiceConfig
		legacy bool // instance.json without keep_hash, as older versions wrote it
		change func(w *runtime.Workload)
		keep   bool
	}{
		{desc: "release numbers only", keep: true},
		{desc: "release numbers only, service reloads live: no signal", config: live, keep: true},
		{desc: "release numbers only, instance from before keep_hash", legacy: true, keep: true},
		{desc: "release numbers and the environment", change: func(w *runtime.Workload) {
			w.Env = map[string]string{"LEVEL": "2"}
		}},
		{desc: "release numbers and the environment, instance from before keep_hash", legacy: true, change: func(w *runtime.Workload) {
			w.Env = map[string]string{"LEVEL": "2"}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rt := newTestRuntime(t, "")
			markFile := filepath.Join(t.TempDir(), "mark")
			w := testProgWorkload(t, fmt.Sprintf("wl-keep-%d", i), "reloader", map[string]string{"MARK_FILE": markFile})
			w.Spec.Config = tt.config
			w.Files = map[string]string{"app.conf": "v1"}
			before := startReloader(t, rt, w, markFile)
			dir := rt.layout.instance(w.ID, 0)
			if tt.legacy {
				is, err := readInstanceSpec(dir)
				if err != nil || is.KeepHash == "" {
					t.Fatalf("instance.json: keep hash %q, %v", is.KeepHash, err)
				}
				is.KeepHash = ""
				if err := writeJSONAtomic(filepath.Join(dir, fileInstance), is); err != nil {
					t.Fatal(err)
				}
			}

			w.Release, w.InstancesOf = 2, 1
			if tt.change != nil {
				tt.change(&w)
			}
			if err := rt.Apply(t.Context(), w); err != nil {
				t.Fatal(err)
			}
			if !tt.keep {
				waitNewProcess(t, rt, w.ID, before.PID)
				return
			}
			// Give a wrongly sent signal or restart time to show.
			time.Sleep(500 * time.Millisecond)
			ws := mustStatus(t, rt, w.ID)
			if ws.Release != 2 || len(ws.Instances) != 1 || ws.Instances[0].PID != before.PID || ws.Instances[0].Restarts != 0 || !ws.Instances[0].Ready {
				t.Errorf("after the apply: release %d, %s; want release 2, pid %d, ready, no restart", ws.Release, describe(ws), before.PID)
			}
			b, _ := os.ReadFile(markFile)
			if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) != 1 {
				t.Errorf("the process saw more than its start: %q", b)
			}
			is, err := readInstanceSpec(dir)
			if err != nil || is.SpecHash != workloadHash(w) || is.KeepHash != keepHash(w) {
				t.Errorf("instance.json hashes %q/%q (%v); want %q/%q", is.SpecHash, is.KeepHash, err, workloadHash(w), keepHash(w))
			}
			st, err := readState(dir)
			if err != nil || st.Reloads != 0 {
				t.Errorf("state records %d reloads (%v), want 0", st.Reloads, err)
			}
			// Applying it again is a no-op, and so is the heal loop.
			if err := rt.Apply(t.Context(), w); err != nil {
				t.Fatal(err)
			}
			if ws := mustStatus(t, rt, w.ID); len(ws.Instances) != 1 || ws.Instances[0].PID != before.PID {
				t.Errorf("a second apply: %s; want pid %d", describe(ws), before.PID)
			}
		})
	}
}
