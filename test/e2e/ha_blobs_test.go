package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/runtime/local"
)

// TestHASourceAcrossDataDirs: two replicas on one database, each with a
// data directory of its own, as on two machines. An app built from
// source is applied through the follower: its archive goes into the
// database, not the follower's disk, and the leader, which never saw the
// upload, builds it and runs it.
func TestHASourceAcrossDataDirs(t *testing.T) {
	db := pgtest.URL(t)
	dirs := []string{t.TempDir(), t.TempDir()}
	// Runs after the cluster's cleanup (which only knows the first data
	// directory): whatever the second replica's runtime left is stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := local.StopAll(ctx, filepath.Join(dirs[1], "runtime")); err != nil {
			t.Logf("stop leftover instances: %v", err)
		}
	})
	c := &cluster{t: t, dataDir: dirs[0], db: db}
	t.Cleanup(c.cleanup)
	c.replicas = append(c.replicas, c.start(freeAddr(t)))
	// The second machine is given what an operator gives it: the admin
	// token (to call it) and the master key. Nothing else is shared.
	for _, f := range []string{"admin-token", "master.key"} {
		b, err := os.ReadFile(filepath.Join(dirs[0], f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirs[1], f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c.replicas = append(c.replicas, startServer(t, dirs[1], freeAddr(t), "", "--database", db, "--lease-duration", haLease))
	leader, _ := c.leader(nil, failoverBound)
	f := c.follower(leader)

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
