package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// sectionBerthYAML is the berth.yaml sleeperRepo wrote for name, with a
// pipeline section (indented lines) added.
func sectionBerthYAML(t *testing.T, work, section string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(work, "berth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "pipeline:\n" + section
}

// TestPipelineSectionInBerthYAML: a pipeline written in berth.yaml is
// checked by `berth apply` (and by the server) with field paths, and runs
// in the checkout instead of the repository's pipeline file.
func TestPipelineSectionInBerthYAML(t *testing.T) {
	work := sleeperRepo(t, "secty", "on: [manual]\nsteps:\n  - {name: from-file, run: echo from-file}\n")
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, t.TempDir(), freeAddr(t), freeAddr(t))
	file := filepath.Join(work, "berth.yaml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	good := sectionBerthYAML(t, work, `  on: [manual]
  steps:
    - {name: test, run: test -f .berth/pipeline.yaml && echo in-the-checkout}
    - {name: build, needs: [test], run: echo built}
    - {name: ship, needs: [build], run: echo shipped}
`)

	// A bad section: exit 2, every problem with its path and line, and no app.
	write(strings.Replace(good, "needs: [build]", "needs: [biuld]", 1))
	out, code := s.berth("apply", "-f", file, "--wait=false")
	if code != 2 || !strings.Contains(out, `berth.yaml:11: pipeline.steps[2].needs[0]: unknown step "biuld"; did you mean "build"?`) {
		t.Fatalf("apply of a bad section: exit %d\n%s", code, out)
	}
	// With source.pipeline too: both fields named.
	write(strings.Replace(good, "branch: main}", "branch: main, pipeline: ci/p.yaml}", 1))
	out, code = s.berth("apply", "-f", file, "--wait=false")
	if code != 2 || !strings.Contains(out, "pipeline: cannot be used together with source.pipeline") {
		t.Fatalf("apply with section and source.pipeline: exit %d\n%s", code, out)
	}
	// The server checks it as well, for clients other than the CLI.
	body, _ := json.Marshal(api.ApplyRequest{Spec: strings.Replace(good, "needs: [build]", "needs: [biuld]", 1)})
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.api+"/api/v1/apply", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var apiErr api.ErrorBody
	_ = json.NewDecoder(resp.Body).Decode(&apiErr)
	resp.Body.Close()
	if d := apiErr.Error.Details; resp.StatusCode != http.StatusUnprocessableEntity || len(d) != 1 || d[0].Field != "pipeline.steps[2].needs[0]" || d[0].Line != 11 {
		t.Fatalf("POST /apply with a bad section: %d %+v", resp.StatusCode, apiErr)
	}
	if out, code := s.berth("status", "secty"); code == 0 {
		t.Fatalf("a refused apply created the app:\n%s", out)
	}

	// A good section: pipeline show names berth.yaml, and a run takes it.
	write(good)
	s.mustBerth("apply", "-f", file, "--wait=false")
	var p api.Pipeline
	if err := json.Unmarshal([]byte(s.mustBerth("pipeline", "show", "secty", "-o", "json")), &p); err != nil {
		t.Fatal(err)
	}
	if p.File != "berth.yaml" || !strings.Contains(string(p.Definition), `"ship"`) {
		t.Fatalf("pipeline show: file %q, definition %s", p.File, p.Definition)
	}
	if out := s.mustBerth("pipeline", "show", "secty"); !strings.Contains(out, "File:      berth.yaml (its pipeline section") || !strings.Contains(out, "ship") {
		t.Errorf("pipeline show:\n%s", out)
	}
	s.mustBerth("pipeline", "run", "secty")
	run := s.waitRun("secty.1")
	log := s.mustBerth("run", "logs", "secty.1")
	if run.State != api.RunSucceeded || run.SpecRelease != 1 {
		t.Fatalf("run %s of release %d (%s):\n%s", run.State, run.SpecRelease, run.Reason, log)
	}
	if out := s.mustBerth("run", "show", "secty.1"); !strings.Contains(out, "Spec:     release 1") {
		t.Errorf("run show:\n%s", out)
	}
	for _, want := range []string{"[test] in-the-checkout", "[build] built", "[ship] shipped", ".berth/pipeline.yaml in the repository is ignored"} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if strings.Contains(log, "from-file") {
		t.Errorf("the repository's pipeline file ran:\n%s", log)
	}
}

// waitRun waits for a run to end and returns it as `berth run show` does.
func (s *server) waitRun(id string) api.Run {
	s.t.Helper()
	var run api.Run
	eventually(s.t, time.Minute, "run "+id+" ends", func() error {
		if err := json.Unmarshal([]byte(s.mustBerth("run", "show", id, "-o", "json")), &run); err != nil {
			return err
		}
		if run.State == api.RunQueued || run.State == api.RunRunning {
			return fmt.Errorf("state %s", run.State)
		}
		return nil
	})
	return run
}
