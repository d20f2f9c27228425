package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/webhook"
	"github.com/berthdev/berth/pkg/api"
)

// gitRun runs the git binary to build the test repository.
func gitRun(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com",
		"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// serveGit serves the bare repositories under root over smart HTTP.
func serveGit(t *testing.T, root string) string {
	t.Helper()
	return serveGitOn(t, root, "127.0.0.1")
}

// serveGitOn serves the repositories under root over smart HTTP (git
// http-backend) on ip: 127.0.0.1 for the server alone, the address of a
// real node's bridge for its pods too.
func serveGitOn(t *testing.T, root, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(&cgi.Handler{
		Path: filepath.Join(gitRun(t, root, "--exec-path"), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1"},
	})
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

const pipeApp = `name: pipeshop
source: {git: %s, branch: main}
services:
  web:
    # The release is built from the pipeline's checkout: the artifact the
    # build step made must be there.
    build: cat bin/built
    command: ["sh", "-c", "exec sleep 100000"]
    health:
      exec: {command: ["test", "-f", "bin/built"]}
      interval: 500ms
`

const pipeFile = `on: [push, manual]
steps:
  - name: build
    secrets: [BUILD_TOKEN]
    run: |
      mkdir -p bin && echo "built from $BERTH_COMMIT" > bin/built && echo "built $BERTH_REF"
      echo "token is $BUILD_TOKEN"
      echo "token sha $(printf %s "$BUILD_TOKEN" | sha256sum | cut -c1-16)"
    artifacts: [bin/]
  - name: approve
    needs: [build]
    approval: {role: admin, timeout: 10m}
  - name: deploy
    needs: [approve]
    timeout: 3m
    deploy: {env: local}
`

// TestPipelineFromPushToRelease: a signed GitHub push starts a run; the
// build step runs, the approval gate waits until "berth approve", then the
// deploy step creates a release that the reconciler rolls out until it is
// healthy. Bad and replayed deliveries change nothing.
func TestPipelineFromPushToRelease(t *testing.T) {
	root, work := t.TempDir(), t.TempDir()
	bare := filepath.Join(root, "pipeshop.git")
	gitRun(t, root, "init", "-q", "--bare", bare)
	gitRun(t, bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	url := serveGit(t, root) + "/pipeshop.git"
	if err := os.MkdirAll(filepath.Join(work, ".berth"), 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(work, "berth.yaml"), []byte(fmt.Sprintf(pipeApp, url)), 0o644))
	must(os.WriteFile(filepath.Join(work, ".berth", "pipeline.yaml"), []byte(pipeFile), 0o644))
	gitRun(t, work, "init", "-q")
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "c1")
	c1 := gitRun(t, work, "rev-parse", "HEAD")
	must(os.WriteFile(filepath.Join(work, "README"), []byte("hello\n"), 0o644))
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "c2")
	c2 := gitRun(t, work, "rev-parse", "HEAD")
	gitRun(t, work, "push", "-q", bare, "HEAD:refs/heads/main")

	var s *server
	cleanupApps(t, &s)
	s = startServer(t, t.TempDir(), freeAddr(t), freeAddr(t))

	// The app exists before its pipeline: applied by hand, without the
	// artifact its build needs, so release 1 fails to build.
	s.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	// The build step names an app secret: the server's secret store hands
	// it to the step, and its log shows it masked.
	const buildToken = "pipe-secret-Vq93-build-token"
	tokenFile := filepath.Join(t.TempDir(), "token")
	must(os.WriteFile(tokenFile, []byte(buildToken), 0o600))
	s.mustBerth("secret", "set", "pipeshop", "BUILD_TOKEN", "--from-file", tokenFile)
	tokenSum := sha256.Sum256([]byte(buildToken))
	var p api.Pipeline
	must(json.Unmarshal([]byte(s.mustBerth("pipeline", "show", "pipeshop", "-o", "json")), &p))
	if p.Git != url || p.Branch != "main" || p.HookSecret == "" || p.Hooks["github"] != "/api/v1/hooks/github/pipeshop" {
		t.Fatalf("pipeline = %+v", p)
	}

	payload, _ := json.Marshal(map[string]any{
		"ref": "refs/heads/main", "before": c1, "after": c2,
		"commits":    []map[string]any{{"id": c2, "added": []string{"README"}}},
		"repository": map[string]any{"full_name": "team/pipeshop", "clone_url": url}, "sender": map[string]any{"login": "ann"},
	})
	hook := func(id string, secret string) int {
		req, _ := http.NewRequest(http.MethodPost, "http://"+s.api+p.Hooks["github"], bytes.NewReader(payload))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", id)
		if secret != "" {
			k, v := webhook.Sign(webhook.GitHub, []byte(secret), payload)
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	runCount := func() int {
		var runs []api.Run
		must(json.Unmarshal([]byte(s.mustBerth("run", "list", "pipeshop", "-o", "json")), &runs))
		return len(runs)
	}
	if code := hook("d-1", "wrong secret"); code != http.StatusUnauthorized {
		t.Errorf("bad signature: %d, want 401", code)
	}
	if code := hook("d-1", ""); code != http.StatusUnauthorized {
		t.Errorf("no signature: %d, want 401", code)
	}
	if n := runCount(); n != 0 {
		t.Fatalf("refused deliveries made %d runs", n)
	}
	if code := hook("d-1", p.HookSecret); code != http.StatusAccepted {
		t.Fatalf("good delivery: %d, want 202\n%s", code, s.log)
	}
	if code := hook("d-1", p.HookSecret); code != http.StatusConflict {
		t.Errorf("replay: %d, want 409", code)
	}
	if n := runCount(); n != 1 {
		t.Fatalf("%d runs, want 1", n)
	}

	showRun := func() api.Run {
		var run api.Run
		must(json.Unmarshal([]byte(s.mustBerth("run", "show", "pipeshop.1", "-o", "json")), &run))
		return run
	}
	eventually(t, time.Minute, "the approval gate waits", func() error {
		run := showRun()
		for _, st := range run.Steps {
			if st.Name == "approve" && st.Status == "running" {
				return nil
			}
		}
		if run.State != api.RunRunning && run.State != api.RunQueued {
			t.Fatalf("run ended early: %+v\n%s", run, s.mustBerth("run", "logs", "pipeshop.1"))
		}
		return fmt.Errorf("run %s, steps %+v", run.State, run.Steps)
	})
	time.Sleep(time.Second)
	if run := showRun(); run.State != api.RunRunning || run.Steps[2].Status != "pending" {
		t.Fatalf("the gate did not hold: %+v", run)
	}
	if out, code := s.berth("approve", "pipeshop.1", "--comment", "numbers look fine"); code != 0 || !strings.Contains(out, "approve recorded") {
		t.Fatalf("approve: exit %d\n%s", code, out)
	}
	if out, code := s.berth("approve", "pipeshop.1"); code != 1 {
		t.Errorf("a second approval by the same caller: exit %d, want 1\n%s", code, out)
	}
	logs := s.mustBerth("run", "logs", "pipeshop.1", "-f") // returns when the run ends
	if strings.Contains(logs, buildToken) {
		t.Errorf("run log shows the secret:\n%s", logs)
	}
	for _, want := range []string{"[build] built refs/heads/main", "token is ***", "token sha " + hex.EncodeToString(tokenSum[:])[:16], "step approve succeeded", "release 2 of pipeshop created in the server's local runtime", "release 2 is deployed", "run succeeded"} {
		if !strings.Contains(logs, want) {
			t.Errorf("run log lacks %q:\n%s", want, logs)
		}
	}
	run := showRun()
	if run.State != api.RunSucceeded || run.Commit != c2 || run.Trigger != "push" || len(run.Approvals) != 1 ||
		run.Approvals[0].Comment != "numbers look fine" || run.Approvals[0].Decision != "approve" {
		t.Fatalf("run = %+v\nserver log:\n%s", run, s.log)
	}
	var rel api.Release
	var rels []api.Release
	must(json.Unmarshal([]byte(s.mustBerth("releases", "pipeshop", "-o", "json")), &rels))
	for _, r := range rels {
		if r.Number == 2 {
			rel = r
		}
	}
	if rel.Cause != "pipeline" || rel.State != api.ReleaseDeployed {
		t.Errorf("release 2 = cause %q state %q (%s %s)", rel.Cause, rel.State, rel.Reason, rel.Message)
	}
	if a := s.app("pipeshop"); a.Status.Serving != 2 {
		t.Errorf("serving release %d, want 2 (%+v)", a.Status.Serving, a.Status)
	}
	table := s.mustBerth("run", "show", "pipeshop.1")
	if !strings.Contains(table, "approve: approve by") || !strings.Contains(table, "deploy") {
		t.Errorf("run show:\n%s", table)
	}
	// A manual run with an undeclared parameter fails with the reason.
	s.mustBerth("pipeline", "run", "pipeshop", "--param", "NOPE=1")
	out, code := s.berth("run", "logs", "pipeshop.2", "-f")
	if code != 0 || !strings.Contains(out, "parameter NOPE is not declared") {
		t.Errorf("run logs pipeshop.2: exit %d\n%s", code, out)
	}
	if out, code := s.berth("run", "show", "not-a-run"); code != 2 {
		t.Errorf("bad run ID: exit %d, want 2\n%s", code, out)
	}
}

// TestPipelineRunSurvivesServerCrash: the server is killed (SIGKILL) while
// a step runs; the restarted server marks the run failed with the reason,
// kills what the step left running, and re-running it works.
func TestPipelineRunSurvivesServerCrash(t *testing.T) {
	work := sleeperRepo(t, "crashy", "on: [manual]\nparams:\n  - {name: NAP, default: \"300\"}\nsteps:\n  - name: slow\n    run: echo started; sleep \"$NAP\"\n")

	dataDir, apiAddr, gwAddr := t.TempDir(), freeAddr(t), freeAddr(t)
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, apiAddr, gwAddr)
	s.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	s.mustBerth("pipeline", "run", "crashy")
	var run api.Run
	eventually(t, time.Minute, "the step runs", func() error {
		out := s.mustBerth("run", "logs", "crashy.1")
		if !strings.Contains(out, "[slow] started") {
			return fmt.Errorf("log so far:\n%s", out)
		}
		return nil
	})
	sleepers := func() []int { return stepProcesses("crashy.1") }
	if len(sleepers()) == 0 {
		t.Fatal("no step process found before the crash")
	}
	s.kill()
	s = startServer(t, dataDir, apiAddr, gwAddr)
	eventually(t, 30*time.Second, "the interrupted run is settled", func() error {
		if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "crashy.1", "-o", "json")), &run); err != nil {
			return err
		}
		if run.State != api.RunFailed {
			return fmt.Errorf("state %s", run.State)
		}
		return nil
	})
	if !strings.Contains(run.Reason, "the server restarted during the run (step slow was running)") {
		t.Errorf("reason %q", run.Reason)
	}
	eventually(t, 10*time.Second, "the step's processes are gone", func() error {
		if left := sleepers(); len(left) > 0 {
			return fmt.Errorf("still running: %v", left)
		}
		return nil
	})
	out := s.mustBerth("run", "rerun", "crashy.1")
	if !strings.Contains(out, "crashy.2 queued") {
		t.Fatalf("rerun: %s", out)
	}
	s.mustBerth("run", "cancel", "crashy.2")
	eventually(t, 30*time.Second, "the re-run is cancelled", func() error {
		var r2 api.Run
		if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "crashy.2", "-o", "json")), &r2); err != nil {
			return err
		}
		if r2.State != api.RunCancelled || r2.RerunOf != "crashy.1" {
			return fmt.Errorf("crashy.2 = %s (rerun of %q, reason %q); its log:\n%s", r2.State, r2.RerunOf, r2.Reason, s.mustBerth("run", "logs", "crashy.2"))
		}
		return nil
	})
}

// sleeperRepo makes a git repository name.git, served over HTTP, whose one
// commit on main holds an app name with one service that sleeps, sourced
// from that repository, and pipeline as .berth/pipeline.yaml. It returns
// the work tree, whose berth.yaml is what to apply.
func sleeperRepo(t *testing.T, name, pipeline string) string {
	t.Helper()
	work, _ := sleeperRepoBare(t, name, pipeline)
	return work
}

// sleeperRepoBare is sleeperRepo, also returning the bare repository it
// pushes to (served over HTTP), for tests that push more branches.
func sleeperRepoBare(t *testing.T, name, pipeline string) (work, bare string) {
	t.Helper()
	return sleeperRepoBareOn(t, name, pipeline, "127.0.0.1")
}

// sleeperRepoOn is sleeperRepo with the git server on ip.
func sleeperRepoOn(t *testing.T, name, pipeline, ip string) string {
	t.Helper()
	work, _ := sleeperRepoBareOn(t, name, pipeline, ip)
	return work
}

// sleeperRepoBareOn is sleeperRepoBare with the git server on ip.
func sleeperRepoBareOn(t *testing.T, name, pipeline, ip string) (work, bare string) {
	t.Helper()
	root := t.TempDir()
	work, bare = t.TempDir(), filepath.Join(root, name+".git")
	gitRun(t, root, "init", "-q", "--bare", bare)
	url := serveGitOn(t, root, ip) + "/" + name + ".git"
	if err := os.MkdirAll(filepath.Join(work, ".berth"), 0o755); err != nil {
		t.Fatal(err)
	}
	spec := "name: " + name + "\nsource: {git: " + url + ", branch: main}\nservices:\n  web:\n    command: [sleep, \"100000\"]\n"
	if err := os.WriteFile(filepath.Join(work, "berth.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, ".berth", "pipeline.yaml"), []byte(pipeline), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRun(t, work, "init", "-q")
	gitRun(t, work, "add", "-A")
	gitRun(t, work, "commit", "-q", "-m", "c1")
	gitRun(t, work, "push", "-q", bare, "HEAD:refs/heads/main")
	return work, bare
}
