package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// TestShopLifecycle deploys the example from source, calls every service,
// rolls out a change, rolls back, and checks each step through the gateway.
func TestShopLifecycle(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, freeAddr(t), freeAddr(t))

	out := s.mustBerth("apply", "-f", "examples/shop", "--timeout", "3m")
	t.Logf("apply:\n%s", out)

	code, body, err := s.viaGateway("shop.localhost", "/")
	if err != nil || code != 200 || !strings.Contains(body, "Welcome to the shop! You are visitor 1.") {
		t.Fatalf("gateway: %d %q %v", code, body, err)
	}

	a := s.app("shop")
	if a.Status.Phase != api.PhaseRunning || a.Status.Serving != 1 {
		t.Fatalf("status: phase %s serving %d", a.Status.Phase, a.Status.Serving)
	}
	for _, svc := range a.Status.Services {
		want := map[string]int{"web": 2, "api": 1, "store": 1}[svc.Name]
		if svc.Ready != want || len(svc.Instances) != want {
			t.Fatalf("service %s: ready %d instances %d, want %d", svc.Name, svc.Ready, len(svc.Instances), want)
		}
		for _, in := range svc.Instances {
			if in.PID == 0 || !pidAlive(in.PID) {
				t.Fatalf("instance %s: pid %d not alive", in.ID, in.PID)
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", in.Port))
			if err != nil {
				t.Fatalf("instance %s healthz: %v", in.ID, err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("instance %s healthz: %d", in.ID, resp.StatusCode)
			}
		}
	}

	// Applying the same thing again creates no release.
	out = s.mustBerth("apply", "-f", "examples/shop")
	if !strings.Contains(out, "unchanged") {
		t.Fatalf("second apply should say unchanged:\n%s", out)
	}

	// A changed greeting is a new release, rolled out without losing the
	// store's data (it lives in a volume).
	v2 := copyShop(t, func(y string) string {
		return strings.Replace(y, "Welcome to the shop", "Hello again", 1)
	})
	s.mustBerth("apply", "-f", v2, "--timeout", "3m")
	code, body, err = s.viaGateway("shop.localhost", "/")
	if err != nil || code != 200 || !strings.Contains(body, "Hello again! You are visitor 2.") {
		t.Fatalf("after rollout: %d %q %v", code, body, err)
	}
	diff := s.mustBerth("diff", "shop", "1", "2")
	if !strings.Contains(diff, "Hello again") || !strings.Contains(diff, "Welcome to the shop") {
		t.Fatalf("diff 1 2 does not show the change:\n%s", diff)
	}

	// Rollback makes release 3 from release 1.
	s.mustBerth("rollback", "shop", "--wait")
	code, body, err = s.viaGateway("shop.localhost", "/")
	if err != nil || code != 200 || !strings.Contains(body, "Welcome to the shop! You are visitor 3.") {
		t.Fatalf("after rollback: %d %q %v", code, body, err)
	}
	var rels []api.Release
	if err := json.Unmarshal([]byte(s.mustBerth("releases", "shop", "-o", "json")), &rels); err != nil {
		t.Fatal(err)
	}
	if len(rels) != 3 || rels[2].RollbackOf != 1 || rels[2].State != api.ReleaseDeployed {
		t.Fatalf("releases after rollback: %+v", rels)
	}

	logs := s.mustBerth("logs", "shop/store", "--tail", "50")
	if !strings.Contains(logs, "store listening on") {
		t.Fatalf("logs shop/store:\n%s", logs)
	}
}

// TestKilledInstanceIsRestarted kills an instance with SIGKILL and expects
// the supervisor to bring it back with a new PID and a restart counted.
func TestKilledInstanceIsRestarted(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, freeAddr(t), freeAddr(t))
	s.mustBerth("apply", "-f", "examples/shop", "--timeout", "3m")

	before := s.app("shop")
	var victim api.Instance
	for _, svc := range before.Status.Services {
		if svc.Name == "api" {
			victim = svc.Instances[0]
		}
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "api instance restarted and ready", func() error {
		for _, svc := range s.app("shop").Status.Services {
			for _, in := range svc.Instances {
				if in.ID != victim.ID {
					continue
				}
				if in.Restarts < 1 || in.PID == victim.PID || !in.Ready {
					return fmt.Errorf("instance %s: restarts %d pid %d ready %v", in.ID, in.Restarts, in.PID, in.Ready)
				}
				if in.LastExit == nil || in.LastExit.Signal == "" {
					return fmt.Errorf("instance %s: last exit not recorded: %+v", in.ID, in.LastExit)
				}
				return nil
			}
		}
		return fmt.Errorf("instance %s gone", victim.ID)
	})
	if code, body, err := s.viaGateway("shop.localhost", "/"); err != nil || code != 200 {
		t.Fatalf("shop after restart: %d %q %v", code, body, err)
	}
}

// TestFailedReleaseKeepsOldServing rolls out a release whose api exits at
// once: it must be marked failed with the reason, and release 1 keeps serving.
func TestFailedReleaseKeepsOldServing(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, freeAddr(t), freeAddr(t))
	s.mustBerth("apply", "-f", "examples/shop", "--timeout", "3m")

	broken := copyShop(t, func(y string) string {
		return strings.Replace(y, `command: ["./bin/api"]`, `command: ["sh", "-c", "echo api cannot start: no config; exit 3"]`, 1)
	})
	out, code := s.berth("apply", "-f", broken, "--timeout", "2m")
	if code != 1 {
		t.Fatalf("apply of a broken release: exit %d, want 1\n%s", code, out)
	}
	if !strings.Contains(out, "CrashLoop") || !strings.Contains(out, "api cannot start") {
		t.Fatalf("apply output does not give the reason:\n%s", out)
	}
	var rels []api.Release
	if err := json.Unmarshal([]byte(s.mustBerth("releases", "shop", "-o", "json")), &rels); err != nil {
		t.Fatal(err)
	}
	if len(rels) != 2 {
		t.Fatalf("want 2 releases, got %+v", rels)
	}
	rel := rels[1]
	if rel.State != api.ReleaseFailed || rel.Reason != "CrashLoop" || !strings.Contains(rel.Message, "code 3") {
		t.Fatalf("release 2: %+v", rel)
	}
	a := s.app("shop")
	if a.Status.Serving != 1 {
		t.Fatalf("serving %d, want 1", a.Status.Serving)
	}
	eventually(t, 30*time.Second, "release 1 fully serving again", func() error {
		a := s.app("shop")
		for _, svc := range a.Status.Services {
			for _, in := range svc.Instances {
				if in.Release != 1 {
					return fmt.Errorf("instance %s of release %d still present", in.ID, in.Release)
				}
			}
			if svc.Ready != svc.Desired {
				return fmt.Errorf("%s: %d/%d ready", svc.Name, svc.Ready, svc.Desired)
			}
		}
		return nil
	})
	if code, body, err := s.viaGateway("shop.localhost", "/"); err != nil || code != 200 || !strings.Contains(body, "Welcome") {
		t.Fatalf("shop after failed release: %d %q %v", code, body, err)
	}
}

// TestServerKilledMidRollout kills the server with SIGKILL while a rollout
// runs. The restarted server must adopt the running instances (same PIDs),
// finish the rollout, and never run an instance twice.
func TestServerKilledMidRollout(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	apiAddr, gwAddr := freeAddr(t), freeAddr(t)
	s = startServer(t, dataDir, apiAddr, gwAddr)
	s.mustBerth("apply", "-f", "examples/shop", "--timeout", "3m")

	v2 := copyShop(t, func(y string) string {
		return strings.Replace(y, "Welcome to the shop", "Restarted and rolled", 1)
	})
	out := s.mustBerth("apply", "-f", v2, "--wait=false")
	if !strings.Contains(out, "release 2") {
		t.Fatalf("apply v2: %s", out)
	}
	// Let the rollout start (build and first new instance), then crash.
	eventually(t, 60*time.Second, "rollout under way", func() error {
		for _, svc := range s.app("shop").Status.Services {
			for _, in := range svc.Instances {
				if in.Release == 2 {
					return nil
				}
			}
		}
		return fmt.Errorf("no instance of release 2 yet")
	})
	before := instancePIDs(s.app("shop"))
	s.kill()

	s = startServer(t, dataDir, apiAddr, gwAddr)
	after := instancePIDs(s.app("shop"))
	for id, pid := range before {
		if p, ok := after[id]; ok && p != pid && pid != 0 && pidAlive(pid) {
			t.Fatalf("instance %s: pid %d before the crash, %d after, and the old one still runs", id, pid, p)
		}
	}
	adopted := 0
	for id, pid := range before {
		if after[id] == pid && pid != 0 {
			adopted++
		}
	}
	if adopted == 0 {
		t.Fatalf("no instance kept its PID across the server restart: before %v after %v", before, after)
	}

	eventually(t, 90*time.Second, "release 2 deployed after restart", func() error {
		a := s.app("shop")
		if a.Status.Serving != 2 || a.Status.Phase != api.PhaseRunning {
			return fmt.Errorf("serving %d phase %s", a.Status.Serving, a.Status.Phase)
		}
		return nil
	})
	code, body, err := s.viaGateway("shop.localhost", "/")
	if err != nil || code != 200 || !strings.Contains(body, "Restarted and rolled") {
		t.Fatalf("after restart: %d %q %v", code, body, err)
	}
	// Nothing runs twice: every process of the shop that is alive belongs
	// to an instance the server knows.
	known := map[int]bool{}
	for _, pid := range instancePIDs(s.app("shop")) {
		known[pid] = true
	}
	for _, pid := range shopProcesses(t, dataDir) {
		if !known[pid] {
			t.Fatalf("process %d runs a shop binary but is no known instance (known %v)", pid, known)
		}
	}
}

// shopProcesses lists live processes whose executable lives under dataDir
// (the built shop binaries).
func shopProcesses(t *testing.T, dataDir string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || !strings.HasPrefix(exe, dataDir) || !pidAlive(pid) {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// TestBadSpecChangesNothing: an invalid spec exits 2 with the field path,
// and the server stores nothing.
func TestBadSpecChangesNothing(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, dataDir, freeAddr(t), freeAddr(t))
	bad := copyShop(t, func(y string) string {
		return strings.Replace(y, "ports: [9090]", "ports: [70000]", 1)
	})
	out, code := s.berth("apply", "-f", bad)
	if code != 2 || !strings.Contains(out, "services.api.ports[0].port") {
		t.Fatalf("apply bad spec: exit %d\n%s", code, out)
	}
	// The API says the same with 422, checked without the CLI.
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.api+"/api/v1/apply",
		strings.NewReader(`{"spec": "name: x\nservices:\n  a:\n    command: [x]\n    replicas: -1\n"}`))
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 422 || !strings.Contains(string(b), "services.a.replicas") {
		t.Fatalf("API apply bad spec: %d %s", resp.StatusCode, b)
	}
	out = s.mustBerth("apps", "-o", "json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("apps after bad input: %s", out)
	}
}
