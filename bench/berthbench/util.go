package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitHTTP polls url until it answers 200, every 1 ms, and returns when.
func waitHTTP(url string, timeout time.Duration) error {
	c := &http.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, timeout)
}

// buildTestSvc compiles bench/testsvc once into dir.
func buildTestSvc(dir string) (string, error) {
	out := filepath.Join(dir, "testsvc")
	cmd := exec.Command("go", "build", "-o", out, "./bench/testsvc")
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return out, cmd.Run()
}

// server is a berth server started for a benchmark.
type server struct {
	cmd   *exec.Cmd
	api   string
	data  string
	token string
}

func startServer(berth, data string, extra ...string) (*server, error) {
	s := &server{api: fmt.Sprintf("127.0.0.1:%d", freePort()), data: data}
	s.cmd = exec.Command(berth, append([]string{"server", "--data-dir", data, "--listen", s.api, "--gateway-listen", ""}, extra...)...)
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitHTTP("http://"+s.api+"/healthz", 20*time.Second); err != nil {
		s.stop()
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(data, "admin-token"))
	if err != nil {
		s.stop()
		return nil, err
	}
	s.token = strings.TrimSpace(string(b))
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

func (s *server) berth(berth string, args ...string) (string, error) {
	cmd := exec.Command(berth, args...)
	cmd.Env = append(os.Environ(), "BERTH_URL=http://"+s.api, "BERTH_TOKEN="+s.token,
		"XDG_CONFIG_HOME="+filepath.Join(s.data, "cli"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("berth %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
