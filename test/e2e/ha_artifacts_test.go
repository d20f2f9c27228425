package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/runtime/local"
)

// TestHAArtifactsFromAnyReplica: two replicas on one database, each with a
// data directory of its own. The leader runs a pipeline whose step keeps
// artifacts; the follower, which never saw the run's workspace, lists and
// serves them, because the archive is in the database, not on a disk.
func TestHAArtifactsFromAnyReplica(t *testing.T) {
	leader, f, dirs := twoReplicas(t)

	work := sleeperRepo(t, "haarts", "on: [manual]\nsteps:\n  - name: build\n    run: mkdir -p out && echo kept > out/report.txt\n    artifacts: [out/]\n")
	leader.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	leader.mustBerth("pipeline", "run", "haarts")
	if logs := leader.mustBerth("run", "logs", "haarts.1", "-f"); !strings.Contains(logs, "run succeeded") {
		t.Fatalf("run log:\n%s", logs)
	}
	if out := f.mustBerth("run", "artifacts", "haarts.1"); !strings.Contains(out, "build") {
		t.Fatalf("artifacts through the follower:\n%s", out)
	}
	dest := filepath.Join(t.TempDir(), "got")
	f.mustBerth("run", "download", "haarts.1", "--step", "build", "-d", dest)
	if b, err := os.ReadFile(filepath.Join(dest, "out", "report.txt")); err != nil || string(b) != "kept\n" {
		t.Fatalf("downloaded through the follower: %q, %v", b, err)
	}
	for _, d := range dirs {
		if left, _ := filepath.Glob(filepath.Join(d, "blobs", "sha256", "*")); len(left) > 0 {
			t.Errorf("artifact archives written to data directory %s: %v", d, left)
		}
	}
}

// twoReplicas starts two servers on one fresh database, each with a data
// directory of its own, as on two machines; the second is given only what
// an operator gives it (the admin token, to call it, and the master key).
// It returns the leader, the follower and the two data directories.
func twoReplicas(t *testing.T) (leader, follower *server, dirs []string) {
	t.Helper()
	db := pgtest.URL(t)
	dirs = []string{t.TempDir(), t.TempDir()}
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
	leader, _ = c.leader(nil, failoverBound)
	return leader, c.follower(leader), dirs
}
