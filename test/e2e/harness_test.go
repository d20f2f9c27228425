// Package e2e runs the real berth binary: a server on a temp data dir, the
// CLI against it, the example shop built from source, real processes and
// real HTTP through the gateway.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/pkg/api"
)

// berthBin is the binary under test, built once in TestMain.
var berthBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "berth-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	berthBin = filepath.Join(dir, "berth")
	build := exec.Command("go", "build", "-o", berthBin, "../../cmd/berth")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build berth:", err)
		os.Exit(1)
	}
	code := pgtest.Main(m) // stops the PostgreSQL server the HA tests may have started
	os.RemoveAll(dir)
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// server is one running `berth server` process.
type server struct {
	t       *testing.T
	dataDir string
	api     string
	gateway string
	cmd     *exec.Cmd
	log     *bytes.Buffer
	token   string
}

// startServer starts berth server on dataDir (reused across restarts),
// with extra flags after the usual ones.
func startServer(t *testing.T, dataDir, apiAddr, gwAddr string, extra ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: dataDir, api: apiAddr, gateway: gwAddr, log: &bytes.Buffer{}}
	s.cmd = exec.Command(berthBin, append([]string{"server", "--data-dir", dataDir, "--listen", apiAddr, "--gateway-listen", gwAddr}, extra...)...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.Env = os.Environ()
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + apiAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			s.kill()
			t.Fatalf("server did not answer on %s; log:\n%s", apiAddr, s.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(filepath.Join(dataDir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	s.token = strings.TrimSpace(string(tok))
	return s
}

// kill sends SIGKILL to the server, like a crash.
func (s *server) kill() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// stop ends the server gracefully.
func (s *server) stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.kill()
		}
	}
}

// berth runs the CLI against the server and returns its output and exit code.
func (s *server) berth(args ...string) (string, int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, berthBin, args...)
	cmd.Env = append(os.Environ(), "BERTH_URL=http://"+s.api, "BERTH_TOKEN="+s.token,
		"XDG_CONFIG_HOME="+filepath.Join(s.dataDir, "cli-config"))
	cmd.Dir = repoRoot(s.t)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		s.t.Fatalf("berth %v: %v", args, err)
	}
	return string(out), code
}

// mustBerth runs the CLI and fails the test on a non-zero exit.
func (s *server) mustBerth(args ...string) string {
	s.t.Helper()
	out, code := s.berth(args...)
	if code != 0 {
		s.t.Fatalf("berth %s: exit %d\n%s\nserver log:\n%s", strings.Join(args, " "), code, out, s.log)
	}
	return out
}

func (s *server) app(name string) api.App {
	s.t.Helper()
	var a api.App
	out := s.mustBerth("status", name, "-o", "json")
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		s.t.Fatalf("status -o json: %v\n%s", err, out)
	}
	return a
}

// viaGateway GETs path on host through the gateway.
func (s *server) viaGateway(host, path string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.gateway+path, nil)
	req.Host = host
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// eventually retries fn until it returns nil or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("%s: still failing after %s: %v", what, timeout, err)
}

// copyShop copies examples/shop into a temp dir and applies edit to its
// berth.yaml, so a test can roll out a changed spec.
func copyShop(t *testing.T, edit func(string) string) string {
	t.Helper()
	src := filepath.Join(repoRoot(t), "examples", "shop")
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == "bin" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if rel == "berth.yaml" && edit != nil {
			b = []byte(edit(string(b)))
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// pidAlive reports whether pid is a live (non-zombie) process.
func pidAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && len(s) > i+2 && s[i+2] != 'Z'
}

// instancePIDs maps instance ID to PID for every instance of the app.
func instancePIDs(a api.App) map[string]int {
	m := map[string]int{}
	for _, s := range a.Status.Services {
		for _, in := range s.Instances {
			m[in.ID] = in.PID
		}
	}
	return m
}

// cleanupApps stops the server at the end of a test and then every instance
// it left, so nothing outlives the test even when it failed half-way. When
// the test passed, it first deletes the apps through the CLI, which checks
// that delete really stops everything.
func cleanupApps(t *testing.T, s **server) {
	t.Cleanup(func() {
		srv := *s
		if srv == nil {
			return
		}
		if !t.Failed() && srv.cmd.ProcessState == nil {
			out, _ := srv.berth("apps", "-o", "json")
			var apps []api.App
			_ = json.Unmarshal([]byte(out), &apps)
			for _, a := range apps {
				if out, code := srv.berth("delete", a.Name, "--wait"); code != 0 {
					t.Errorf("delete %s: exit %d\n%s", a.Name, code, out)
				}
			}
			start := time.Now()
			for len(shopProcesses(t, srv.dataDir)) > 0 && time.Since(start) < 20*time.Second {
				time.Sleep(100 * time.Millisecond)
			}
			if left := shopProcesses(t, srv.dataDir); len(left) > 0 {
				for _, pid := range left {
					cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
					exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
					t.Logf("left: pid %d exe %s cmdline %q", pid, exe, cmdline)
				}
				t.Errorf("processes still running 20s after delete: %v", left)
			} else {
				t.Logf("all processes gone %v after delete returned", time.Since(start).Round(time.Millisecond))
			}
		}
		srv.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := local.StopAll(ctx, filepath.Join(srv.dataDir, "runtime")); err != nil {
			t.Logf("stop leftover instances: %v", err)
		}
	})
}
