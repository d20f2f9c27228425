package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// berthEnv is one `berth server` with its gateway and the apps the harness
// deployed on it.
type berthEnv struct {
	bin, dir, logLevel string
	backendBin         string
	server             *proc
	apiURL, token      string
	gateway            string // host:port
	apps               []string
	backendPids        []int // instances Berth started, found by their pid files
}

// startBerth runs `berth server` on a fresh data dir under dir and waits
// for its API. pin, if not empty, is a taskset CPU list for the server.
func startBerth(ctx context.Context, ps *procs, bin, dir, logLevel, pin string) (*berthEnv, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	b := &berthEnv{
		bin: bin, dir: dir, logLevel: logLevel,
		apiURL:  fmt.Sprintf("http://127.0.0.1:%d", ports[0]),
		gateway: fmt.Sprintf("127.0.0.1:%d", ports[1]),
	}
	data := filepath.Join(dir, "data")
	argv := pinned(pin, bin, "server", "--data-dir", data,
		"--listen", strings.TrimPrefix(b.apiURL, "http://"), "--gateway-listen", b.gateway, "--log-level", logLevel)
	if b.server, err = ps.start("berth-server"+suffix(pin), argv); err != nil {
		return nil, err
	}
	tokenFile := filepath.Join(data, "admin-token")
	err = poll(ctx, 30*time.Second, b.server, func() bool {
		t, err := os.ReadFile(tokenFile)
		if err != nil || len(strings.TrimSpace(string(t))) == 0 {
			return false
		}
		b.token = strings.TrimSpace(string(t))
		return httpStatus(b.apiURL+"/api/v1/version", "", b.token) == http.StatusOK
	})
	if err != nil {
		return nil, fmt.Errorf("berth server did not start: %w\n%s", err, ps.logTail("berth-server"+suffix(pin)))
	}
	return b, nil
}

// cli runs the berth CLI against this server.
func (b *berthEnv) cli(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	home := filepath.Join(b.dir, "home")
	cmd.Env = append(os.Environ(), "BERTH_URL="+b.apiURL, "BERTH_TOKEN="+b.token,
		"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("berth %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// appSpec is an app of one service running the benchmark backend, routed
// from each of hosts.
func appSpec(name, backend, pidFile string, hosts []string) string {
	var s strings.Builder
	fmt.Fprintf(&s, "name: %s\nservices:\n  web:\n    command: [%q]\n    ports: [8080]\n", name, backend)
	fmt.Fprintf(&s, "    env:\n      BACKEND_PIDFILE: %q\n", pidFile)
	s.WriteString("    health:\n      http: {path: /healthz}\n      interval: 1s\n")
	s.WriteString("routes:\n")
	for _, h := range hosts {
		fmt.Fprintf(&s, "  - {host: %s, service: web}\n", h)
	}
	return s.String()
}

// deploy applies an app and waits until the gateway answers 200 for probe
// (the route feed may lag the release). It returns how long `berth apply`
// took and how long until the gateway answered.
func (b *berthEnv) deploy(ctx context.Context, name, backend string, hosts []string, probe string) (applied, routed time.Duration, err error) {
	b.backendBin = backend
	appDir := filepath.Join(b.dir, "apps", name)
	if err := os.MkdirAll(appDir, 0o755); err != nil {
		return 0, 0, err
	}
	pidFile := filepath.Join(b.dir, name+".pid")
	if err := os.WriteFile(filepath.Join(appDir, "berth.yaml"), []byte(appSpec(name, backend, pidFile, hosts)), 0o644); err != nil {
		return 0, 0, err
	}
	b.apps = append(b.apps, name)
	start := time.Now()
	if _, err := b.cli(ctx, 5*time.Minute, "apply", "-f", appDir, "--timeout", "4m"); err != nil {
		return 0, 0, err
	}
	applied = time.Since(start)
	pid, err := readPidFile(pidFile)
	if err != nil {
		return 0, 0, fmt.Errorf("app %s is deployed but its backend wrote no pid: %w", name, err)
	}
	b.backendPids = append(b.backendPids, pid)
	err = poll(ctx, 2*time.Minute, b.server, func() bool {
		return httpStatus("http://"+b.gateway+"/", probe, "") == http.StatusOK
	})
	if err != nil {
		return 0, 0, fmt.Errorf("berth gateway never answered 200 for host %s: %w", probe, err)
	}
	return applied, time.Since(start), nil
}

// stop deletes the apps (their instances outlive the server otherwise),
// stops the server, and kills any backend or shim still left.
func (b *berthEnv) stop(ctx context.Context, ps *procs) {
	// Clean up even when the run was interrupted.
	ctx = context.WithoutCancel(ctx)
	if !b.server.exited() {
		for _, app := range b.apps {
			_, _ = b.cli(ctx, 30*time.Second, "delete", app, "--wait", "--timeout", "25s")
		}
	}
	ps.stop(b.server, 10*time.Second)
	for _, pid := range b.backendPids {
		// Only processes that are still ours: the backend binary and its
		// shim, whose command lines name paths under the harness's dir.
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		// The shim first, or it would restart the backend.
		if st.ppid > 1 && strings.Contains(cmdline(st.ppid), b.dir) {
			_ = syscall.Kill(st.ppid, syscall.SIGKILL)
		}
		if strings.Contains(cmdline(pid), b.backendBin) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

func readPidFile(path string) (int, error) {
	t, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(t)))
}

// pinned prefixes argv with taskset when cpus is not empty.
func pinned(cpus string, argv ...string) []string {
	if cpus == "" {
		return argv
	}
	return append([]string{"taskset", "-c", cpus}, argv...)
}

func suffix(pin string) string {
	if pin == "" {
		return ""
	}
	return "-pinned"
}

// httpStatus GETs url (with a Host header and a bearer token when given)
// and returns the status, or 0 when there is no answer.
func httpStatus(url, host, token string) int {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	if host != "" {
		req.Host = host
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// poll calls ok every 50 ms until it is true, the process p exits, ctx
// ends or timeout passes.
func poll(ctx context.Context, timeout time.Duration, p *proc, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return nil
		}
		if p != nil && p.exited() {
			if p.err == nil {
				return fmt.Errorf("%s exited with status 0", p.name)
			}
			return fmt.Errorf("%s exited: %w", p.name, p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
