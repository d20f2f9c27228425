package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// TestPipelineCLIRefParamReject drives the pipeline CLI the issue names
// that the other end-to-end tests leave out, against a real server and a
// real repository served over HTTP: "berth pipeline list", "berth pipeline
// run APP --ref REF --param K=V" (the run checks out that branch's commit
// and the step sees the parameter), and "berth reject RUN --comment": the
// gate fails the run, later steps never start, and the decision is
// recorded with who and why.
func TestPipelineCLIRefParamReject(t *testing.T) {
	work, bare := sleeperRepoBare(t, "gated", `on: [manual]
params:
  - {name: WHO, default: nobody}
steps:
  - name: greet
    run: echo "hello $WHO on $BERTH_REF"; cat branch.txt
  - name: gate
    needs: [greet]
    approval: {role: admin, timeout: 10m}
  - name: after
    needs: [gate]
    run: echo after the gate
`)
	// A second branch whose commit differs from main's.
	if err := os.WriteFile(filepath.Join(work, "branch.txt"), []byte("on the feature branch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "feature")
	gitRun(t, work, "push", "-q", bare, "HEAD:refs/heads/feature")
	featureCommit := gitRun(t, work, "rev-parse", "HEAD")

	dataDir, apiAddr, gwAddr := t.TempDir(), freeAddr(t), freeAddr(t)
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, apiAddr, gwAddr)
	defer s.stop()
	s.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")

	if out := s.mustBerth("pipeline", "list"); !strings.Contains(out, "gated") {
		t.Fatalf("pipeline list lacks the app:\n%s", out)
	}
	var pipes []map[string]any
	if err := json.Unmarshal([]byte(s.mustBerth("pipeline", "list", "-o", "json")), &pipes); err != nil || len(pipes) != 1 {
		t.Fatalf("pipeline list -o json: %v %v", pipes, err)
	}

	s.mustBerth("pipeline", "run", "gated", "--ref", "feature", "--param", "WHO=cli")
	var run api.Run
	eventually(t, time.Minute, "the gate waits", func() error {
		if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "gated.1", "-o", "json")), &run); err != nil {
			return err
		}
		if run.State == api.RunSucceeded || run.State == api.RunFailed || run.State == api.RunCancelled {
			t.Fatalf("run ended before the gate: %+v\n%s", run, s.mustBerth("run", "logs", "gated.1"))
		}
		for _, st := range run.Steps {
			if st.Name == "gate" && st.Status == "running" {
				return nil
			}
		}
		return fmt.Errorf("steps %+v", run.Steps)
	})
	if run.Commit != featureCommit || run.Ref != "refs/heads/feature" {
		t.Errorf("run on %s %s, want refs/heads/feature %s", run.Ref, run.Commit, featureCommit)
	}
	logs := s.mustBerth("run", "logs", "gated.1")
	for _, want := range []string{"hello cli on refs/heads/feature", "on the feature branch"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	if out, code := s.berth("reject", "gated.1", "--comment", "not this week"); code != 0 {
		t.Fatalf("reject: exit %d\n%s", code, out)
	}
	eventually(t, 30*time.Second, "the run fails", func() error {
		if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "gated.1", "-o", "json")), &run); err != nil {
			return err
		}
		if run.State != api.RunFailed {
			return fmt.Errorf("state %s", run.State)
		}
		return nil
	})
	for _, st := range run.Steps {
		if st.Name == "after" && st.Status != "skipped" && st.Status != "pending" && st.Status != "cancelled" {
			t.Errorf("step after = %s after the rejection", st.Status)
		}
	}
	if len(run.Approvals) != 1 || run.Approvals[0].Decision != "reject" || run.Approvals[0].Comment != "not this week" ||
		run.Approvals[0].Who == "" || run.Approvals[0].Time.IsZero() {
		t.Errorf("approvals = %+v, want one rejection with who, when and the comment", run.Approvals)
	}
	if logs := s.mustBerth("run", "logs", "gated.1"); strings.Contains(logs, "after the gate") {
		t.Errorf("the step after the rejected gate ran:\n%s", logs)
	}
	if out, code := s.berth("approve", "gated.1"); code != 1 {
		t.Errorf("approving a failed run: exit %d, want 1\n%s", code, out)
	}
}
