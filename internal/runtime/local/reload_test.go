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

// A workload applied again with other config files is reloaded in place
// when its service declares config.reload: signal (same process, signal
// received, new file read); otherwise, or when more than the files
// changed, its instance is replaced.
func TestConfigReload(t *testing.T) {
	t.Parallel()
	live := &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGHUP"}
	tests := []struct {
		desc   string
		config *spec.ServiceConfig
		change func(w *runtime.Workload)
		// wantSignal is the mark line's reason when the same process
		// reloads; "" when a new process must start instead.
		wantSignal string
	}{
		{desc: "reload live with SIGHUP", config: live, wantSignal: "SIGHUP"},
		{desc: "reload live with SIGUSR1", config: &spec.ServiceConfig{Reload: spec.ReloadSignal, Signal: "SIGUSR1"}, wantSignal: "SIGUSR1"},
		{desc: "no declaration restarts", config: nil},
		{desc: "declared restart restarts", config: &spec.ServiceConfig{Reload: spec.ReloadRestart}},
		{desc: "a changed environment restarts even when declared", config: live, change: func(w *runtime.Workload) {
			w.Env = map[string]string{"LEVEL": "2"}
		}},
	}
	for i, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			rt := newTestRuntime(t, "")
			markFile := filepath.Join(t.TempDir(), "mark")
			w := testProgWorkload(t, fmt.Sprintf("wl-reload-%d", i), "reloader", map[string]string{"MARK_FILE": markFile})
			w.Spec.Config = tt.config
			w.Files = map[string]string{"app.conf": "v1", "old.conf": "gone soon"}
			before := startReloader(t, rt, w, markFile)

			w.Release = 2
			w.Files = map[string]string{"app.conf": "v2"}
			if tt.change != nil {
				tt.change(&w)
			}
			if err := rt.Apply(t.Context(), w); err != nil {
				t.Fatal(err)
			}
			if tt.wantSignal == "" {
				after := waitNewProcess(t, rt, w.ID, before.PID)
				waitMark(t, markFile, fmt.Sprintf("pid %d start config %q", after.PID, "v2"))
				return
			}
			waitMark(t, markFile, fmt.Sprintf("pid %d %s config %q", before.PID, tt.wantSignal, "v2"))
			ws := mustStatus(t, rt, w.ID)
			if ws.Release != 2 || len(ws.Instances) != 1 || ws.Instances[0].PID != before.PID || ws.Instances[0].Restarts != 0 || !ws.Instances[0].Ready {
				t.Errorf("after the reload: release %d, %s; want release 2, pid %d, ready, no restart", ws.Release, describe(ws), before.PID)
			}
			inst := rt.layout.instance(w.ID, 0)
			if _, err := os.Stat(filepath.Join(inst, dirConfig, "old.conf")); !os.IsNotExist(err) {
				t.Errorf("a file dropped from the config set is still there: %v", err)
			}
			st, err := readState(inst)
			if err != nil || st.Reloads != 1 {
				t.Errorf("state records %d reloads (%v), want 1", st.Reloads, err)
			}
		})
	}
}

// startReloader applies w (one instance of the reloader test program,
// files app.conf v1) and returns its instance once it read the file.
func startReloader(t *testing.T, rt *Runtime, w runtime.Workload, markFile string) runtime.Instance {
	t.Helper()
	if err := rt.Apply(t.Context(), w); err != nil {
		t.Fatal(err)
	}
	in := waitReady(t, rt, w.ID, 1).Instances[0]
	waitMark(t, markFile, fmt.Sprintf("pid %d start config %q", in.PID, "v1"))
	return in
}

// waitNewProcess waits for the workload's one instance to run, ready, in
// a process other than oldPID.
func waitNewProcess(t *testing.T, rt *Runtime, id string, oldPID int) runtime.Instance {
	t.Helper()
	var in runtime.Instance
	eventually(t, 20*time.Second, "a new process", func() string {
		ws := mustStatus(t, rt, id)
		if len(ws.Instances) != 1 || !ws.Instances[0].Ready || ws.Instances[0].PID == oldPID {
			return describe(ws)
		}
		in = ws.Instances[0]
		return ""
	})
	return in
}

// waitMark waits for a line in the test program's mark file.
func waitMark(t *testing.T, markFile, line string) {
	t.Helper()
	eventually(t, 20*time.Second, "mark "+line, func() string {
		b, _ := os.ReadFile(markFile)
		if !strings.Contains(string(b), line+"\n") {
			return fmt.Sprintf("mark file %q", b)
		}
		return ""
	})
}
