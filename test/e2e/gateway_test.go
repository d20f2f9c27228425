package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoMain is a tiny service that shows the identity the gateway forwards.
const echoMain = `package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
)

func main() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "echo subjects=%q auth=%q\n", r.Header.Values("X-Berth-Subject"), r.Header.Get("X-Berth-Auth"))
	})
	http.ListenAndServe("127.0.0.1:"+os.Getenv("PORT"), mux)
}
`

// echoKey is the API key of the echo route; berth.yaml holds its digest.
const echoKey = "e2e-key-do-not-use-elsewhere"

// shopWithEcho is the shop with a greeting and an echo service behind a
// route that requires an API key.
func shopWithEcho(t *testing.T, greeting string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(echoKey))
	dir := copyShop(t, func(y string) string {
		y = strings.Replace(y, "Welcome to the shop", greeting, 1)
		return strings.Replace(y, "routes:\n", `  echo:
    build: go build -o bin/echo ./echo
    command: ["./bin/echo"]
    ports: [8000]
    health:
      http: {path: /healthz}
      interval: 1s
      timeout: 500ms
routes:
  - host: echo.localhost
    service: echo
    auth:
      api_keys:
        keys:
          `+hex.EncodeToString(sum[:])+`: e2e-client
`, 1)
	})
	if err := os.MkdirAll(filepath.Join(dir, "echo"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "echo", "main.go"), []byte(echoMain), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// gatewayProc is one `berth gateway` process.
type gatewayProc struct {
	t       *testing.T
	name    string
	args    []string
	env     []string
	addr    string
	metrics string
	cmd     *exec.Cmd
	log     *lockedBuffer
}

// startGateway starts `berth gateway` following s, serving on addr.
func startGateway(t *testing.T, name string, args, env []string) *gatewayProc {
	t.Helper()
	g := &gatewayProc{t: t, name: name, args: args, env: env, addr: freeAddr(t), metrics: freeAddr(t)}
	g.start()
	t.Cleanup(func() { g.stop() })
	return g
}

func (g *gatewayProc) start() {
	g.t.Helper()
	g.log = &lockedBuffer{}
	args := append([]string{"gateway", "--listen", g.addr, "--metrics-listen", g.metrics}, g.args...)
	g.cmd = exec.Command(berthBin, args...)
	g.cmd.Env = append(os.Environ(), g.env...)
	g.cmd.Stdout, g.cmd.Stderr = g.log, g.log
	if err := g.cmd.Start(); err != nil {
		g.t.Fatal(err)
	}
	eventually(g.t, 10*time.Second, g.name+" ready", func() error {
		resp, err := http.Get("http://" + g.metrics + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d; log:\n%s", resp.StatusCode, g.log)
		}
		return nil
	})
}

// stop ends the gateway with SIGTERM and expects a clean exit.
func (g *gatewayProc) stop() {
	if g.cmd == nil || g.cmd.ProcessState != nil {
		return
	}
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- g.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			g.t.Errorf("%s: exit after SIGTERM: %v; log:\n%s", g.name, err, g.log)
		}
	case <-time.After(15 * time.Second):
		_ = g.cmd.Process.Kill()
		<-done
		g.t.Errorf("%s did not stop on SIGTERM; log:\n%s", g.name, g.log)
	}
}

func (g *gatewayProc) get(host string, headers map[string]string) (int, string, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+g.addr+"/", nil)
	req.Host = host
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// greets waits until the shop answers through g with greeting.
func (g *gatewayProc) greets(greeting string) {
	g.t.Helper()
	eventually(g.t, 20*time.Second, g.name+" greets "+greeting, func() error {
		code, body, err := g.get("shop.localhost", nil)
		if err != nil || code != 200 || !strings.HasPrefix(body, greeting+"!") {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
}

// echoes checks the echo route through g: 401 without the key; with it,
// 200 and exactly the verified subject, whatever the client claimed.
func (g *gatewayProc) echoes() {
	g.t.Helper()
	if code, body, err := g.get("echo.localhost", nil); err != nil || code != http.StatusUnauthorized {
		g.t.Fatalf("%s: echo without a key: %d %q %v", g.name, code, body, err)
	}
	if code, body, err := g.get("echo.localhost", map[string]string{"X-API-Key": "wrong"}); err != nil || code != http.StatusUnauthorized {
		g.t.Fatalf("%s: echo with a wrong key: %d %q %v", g.name, code, body, err)
	}
	code, body, err := g.get("echo.localhost", map[string]string{"X-API-Key": echoKey, "X-Berth-Subject": "admin"})
	if err != nil || code != 200 || !strings.HasPrefix(body, `echo subjects=["e2e-client"] auth="api_key"`) {
		g.t.Fatalf("%s: echo with the key and a spoofed subject: %d %q %v", g.name, code, body, err)
	}
}

// TestStandaloneGateways runs two `berth gateway` processes beside a
// server: both follow a new release, keep serving while the server is
// killed, one restarts from its state file while the server is down, and
// both resume when it is back. The echo route needs an API key.
func TestStandaloneGateways(t *testing.T) {
	dataDir := t.TempDir() // first, so it is removed after cleanupApps ran
	var s *server
	cleanupApps(t, &s)
	apiAddr, gwAddr := freeAddr(t), freeAddr(t)
	s = startServer(t, dataDir, apiAddr, gwAddr)
	start := time.Now()
	s.mustBerth("apply", "-f", shopWithEcho(t, "Welcome to the shop"), "--timeout", "3m")
	t.Logf("release 1 deployed in %s", time.Since(start).Round(time.Millisecond))

	// a uses the saved context's habits (BERTH_TOKEN and the default state
	// file under XDG_CACHE_HOME); b takes --token and --state-file.
	work := t.TempDir()
	server := "http://" + apiAddr
	a := startGateway(t, "gateway a", []string{"--server", server},
		[]string{"BERTH_TOKEN=" + s.token, "XDG_CACHE_HOME=" + filepath.Join(work, "cache"), "XDG_CONFIG_HOME=" + filepath.Join(work, "config")})
	b := startGateway(t, "gateway b", []string{"--server", server, "--token", s.token, "--state-file", filepath.Join(work, "b.json")},
		[]string{"XDG_CONFIG_HOME=" + filepath.Join(work, "config")})
	for _, g := range []*gatewayProc{a, b} {
		g.greets("Welcome to the shop")
		g.echoes()
	}

	start = time.Now()
	s.mustBerth("apply", "-f", shopWithEcho(t, "Second greeting"), "--timeout", "3m")
	t.Logf("release 2 deployed in %s", time.Since(start).Round(time.Millisecond))
	for _, g := range []*gatewayProc{a, b} {
		g.greets("Second greeting")
	}

	// The control plane crashes. Both gateways keep their table: the
	// instances still answer through them (web's calls to the api service
	// went through the server's service proxy, so web itself answers 502;
	// the echo service needs nothing else).
	s.kill()
	time.Sleep(300 * time.Millisecond)
	for _, g := range []*gatewayProc{a, b} {
		g.echoes()
		code, body, err := g.get("shop.localhost", nil)
		if err != nil || strings.HasPrefix(body, "berth gateway") || !strings.Contains(body, "api unreachable") {
			t.Fatalf("%s: shop while the server is down: %d %q %v", g.name, code, body, err)
		}
	}
	// A gateway restarted now serves the table of its state file.
	a.stop()
	a.start()
	if !strings.Contains(a.log.String(), "serving the table saved in the state file") {
		t.Fatalf("gateway a did not say where its table came from:\n%s", a.log)
	}
	a.echoes()
	if _, err := os.Stat(filepath.Join(work, "b.json")); err != nil {
		t.Fatalf("b's state file: %v", err)
	}

	// The server is back: both resume and follow the next release.
	s = startServer(t, dataDir, apiAddr, gwAddr)
	start = time.Now()
	s.mustBerth("apply", "-f", shopWithEcho(t, "Third greeting"), "--timeout", "3m")
	t.Logf("release 3 deployed in %s", time.Since(start).Round(time.Millisecond))
	for _, g := range []*gatewayProc{a, b} {
		g.greets("Third greeting")
		g.echoes()
	}
	for _, g := range []*gatewayProc{a, b} {
		resp, err := http.Get("http://" + g.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(m), "berth_gateway_control_plane_connected 1") || !strings.Contains(string(m), `berth_gateway_requests_total{app="shop"`) {
			t.Errorf("%s metrics:\n%s", g.name, m)
		}
	}
}
