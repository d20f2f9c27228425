package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestHASourceAcrossDataDirs: two replicas on one database, each with a
// data directory of its own, as on two machines. An app built from
// source is applied through the follower: its archive goes into the
// database, not the follower's disk, and the leader, which never saw the
// upload, builds it and runs it.
func TestHASourceAcrossDataDirs(t *testing.T) {
	leader, f, dirs := twoReplicas(t)

	mark := fmt.Sprintf("%d.%d", 6000+os.Getpid()%1000, time.Now().UnixNano()%1000)
	app := t.TempDir()
	// The command exists only once the build ran on the source.
	files := map[string]string{
		"berth.yaml": "name: hsrc\nservices:\n  sleeper:\n    build: cp run.sh.in run.sh\n    command: [\"sh\", \"run.sh\"]\n",
		"run.sh.in":  "exec sleep " + mark + "\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.mustBerth("apply", "-f", app, "--timeout", "2m")
	eventually(t, 30*time.Second, "the leader runs the app", func() error {
		if p := processesRunning(t, mark); len(p) != 1 {
			return fmt.Errorf("%d instance processes run, want 1", len(p))
		}
		return nil
	})
	// It runs from the leader's build, in the leader's data directory.
	pid := processesRunning(t, mark)[0]
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cwd, leader.dataDir+string(filepath.Separator)) {
		t.Errorf("instance runs in %s, outside the leader's data directory %s", cwd, leader.dataDir)
	}
	// The archive is in neither data directory: only in the database.
	for _, d := range dirs {
		if left, _ := filepath.Glob(filepath.Join(d, "blobs", "sha256", "*")); len(left) > 0 {
			t.Errorf("source archives written to data directory %s: %v", d, left)
		}
	}
	t.Logf("applied through %s (data dir %s); built and run by the leader %s (data dir %s)", f.api, f.dataDir, leader.api, leader.dataDir)
}
