package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// TestPipelineOnlyChangeKeepsInstances: `berth apply` of a berth.yaml whose
// pipeline section alone changed records a new release, deployed, without
// restarting anything (same PIDs), and a run started after it uses the new
// section (its spec_release). Applying it again creates nothing; a
// rollback across it keeps the instances too; a change of the section and
// a service rolls out new instances as before, and so does a rollback to
// the pipeline-only release from there.
func TestPipelineOnlyChangeKeepsInstances(t *testing.T) {
	work := sleeperRepo(t, "pipeonly", "on: [manual]\nsteps:\n  - {name: from-file, run: echo from-file}\n")
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, t.TempDir(), freeAddr(t), freeAddr(t))
	file := filepath.Join(work, "berth.yaml")
	base, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	spec := func(word, level string) string {
		sp := strings.Replace(string(base), "    command: [sleep, \"100000\"]\n",
			"    command: [sleep, \"100000\"]\n    replicas: 2\n    env: {LEVEL: "+level+"}\n", 1)
		return sp + "pipeline:\n  on: [manual]\n  steps:\n    - {name: say, run: echo said-" + word + "}\n"
	}
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	releases := func() []api.Release {
		t.Helper()
		var rs []api.Release
		if err := json.Unmarshal([]byte(s.mustBerth("releases", "pipeonly", "-o", "json")), &rs); err != nil {
			t.Fatal(err)
		}
		return rs
	}
	waitDeployed := func(n int) {
		t.Helper()
		eventually(t, time.Minute, fmt.Sprintf("release %d deployed", n), func() error {
			rs := releases()
			if len(rs) < n || rs[n-1].State != api.ReleaseDeployed {
				return fmt.Errorf("releases %+v", rs)
			}
			return nil
		})
	}
	runSays := func(run, word string, release int) {
		t.Helper()
		s.mustBerth("pipeline", "run", "pipeonly")
		r := s.waitRun(run)
		log := s.mustBerth("run", "logs", run)
		if r.State != api.RunSucceeded || r.SpecRelease != release || !strings.Contains(log, "said-"+word) {
			t.Fatalf("run %s: %s, spec release %d; want succeeded with release %d saying %q:\n%s", run, r.State, r.SpecRelease, release, word, log)
		}
	}

	write(spec("one", "info"))
	s.mustBerth("apply", "-f", file)
	waitDeployed(1)
	pids := instancePIDs(s.app("pipeonly"))
	if len(pids) != 2 {
		t.Fatalf("instances %v, want 2", pids)
	}
	runSays("pipeonly.1", "one", 1)

	// Only the section changes: release 2, deployed, the same processes.
	write(spec("two", "info"))
	out := s.mustBerth("apply", "-f", file)
	if !strings.Contains(out, "release 2 created; only what pipeline runs read changed, so the running instances of release 1 stay") {
		t.Errorf("apply output:\n%s", out)
	}
	waitDeployed(2)
	a := s.app("pipeonly")
	if got := instancePIDs(a); !maps.Equal(got, pids) {
		t.Fatalf("instances after a pipeline-only apply %v, want the same processes %v", got, pids)
	}
	if a.Status.Serving != 2 {
		t.Errorf("serving release %d, want 2", a.Status.Serving)
	}
	if rs := releases(); rs[1].Config == nil || !rs[1].Config.PipelineOnly || rs[1].Config.ReloadOf != 1 {
		t.Errorf("release 2 config %+v; want pipeline_only keeping release 1", rs[1].Config)
	}
	if out := s.mustBerth("releases", "pipeonly"); !strings.Contains(out, "apply (pipeline only, keeps 1)") {
		t.Errorf("releases:\n%s", out)
	}
	if out := s.mustBerth("diff", "pipeonly", "1", "2"); !strings.Contains(out, "said-two") || strings.Contains(out, "LEVEL") {
		t.Errorf("diff 1 2 should show the pipeline change only:\n%s", out)
	}
	runSays("pipeonly.2", "two", 2)

	// The same file again creates nothing.
	if out := s.mustBerth("apply", "-f", file); !strings.Contains(out, "unchanged (release 2)") {
		t.Errorf("second apply:\n%s", out)
	}

	// Back to release 1's section: a rollback that keeps the instances.
	if out := s.mustBerth("rollback", "pipeonly", "--to", "1"); !strings.Contains(out, "release 3 created (rollback to release 1); only what pipeline runs read changed, so the running instances of release 1 stay") {
		t.Errorf("rollback output:\n%s", out)
	}
	waitDeployed(3)
	if got := instancePIDs(s.app("pipeonly")); !maps.Equal(got, pids) {
		t.Fatalf("instances after rolling back the pipeline %v, want %v", got, pids)
	}
	runSays("pipeonly.3", "one", 3)

	// The section and a service: new processes.
	write(spec("four", "debug"))
	out = s.mustBerth("apply", "-f", file)
	if strings.Contains(out, "stay") {
		t.Errorf("apply of a service change:\n%s", out)
	}
	waitDeployed(4)
	eventually(t, time.Minute, "release 1's processes gone", func() error {
		for id, pid := range pids {
			if pidAlive(pid) {
				return fmt.Errorf("instance %s (pid %d) still runs", id, pid)
			}
		}
		return nil
	})
	after := instancePIDs(s.app("pipeonly"))
	if len(after) != 2 {
		t.Fatalf("instances after a service change %v, want 2 new ones", after)
	}
	for id, pid := range after {
		if pids[id] == pid {
			t.Errorf("instance %s kept pid %d across a service change", id, pid)
		}
	}

	// Back to the pipeline-only release 2 from release 4, which changed a
	// service: its spec differs in more than the pipeline, so it rolls.
	if out := s.mustBerth("rollback", "pipeonly", "--to", "2"); strings.Contains(out, "stay") {
		t.Errorf("rollback over a service change:\n%s", out)
	}
	waitDeployed(5)
	if rs := releases(); rs[4].Config == nil || rs[4].Config.PipelineOnly || rs[4].Config.ReloadOf != 0 {
		t.Errorf("release 5 config %+v; want a rollout", rs[4].Config)
	}
	eventually(t, time.Minute, "release 4's processes gone", func() error {
		for id, pid := range after {
			if pidAlive(pid) {
				return fmt.Errorf("instance %s (pid %d) still runs", id, pid)
			}
		}
		return nil
	})
}
