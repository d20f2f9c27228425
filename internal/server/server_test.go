package server

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/runtime/local"
	"github.com/berthdev/berth/internal/source"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

const envShim = "BERTH_SERVER_TEST_SHIM"

// TestMain lets the test binary act as the instance supervisor, so the
// whole server runs in this process while instances run in shims.
func TestMain(m *testing.M) {
	if os.Getenv(envShim) == "1" {
		os.Exit(local.ShimMain(os.Args[1:]))
	}
	os.Exit(pgtest.Main(m))
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

// pack uploads an app folder and returns its spec text and source digest.
func pack(t *testing.T, c *client.Client, dir string) (string, string) {
	t.Helper()
	_, raw, root, err := spec.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	digest, err := source.Pack(root, &buf)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.UploadSource(t.Context(), digest, &buf); err != nil {
		t.Fatal(err)
	}
	return string(raw), digest
}

func waitRelease(t *testing.T, c *client.Client, app string, release int, want string) api.App {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		a, err := c.GetApp(t.Context(), app)
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.GetRelease(t.Context(), app, release)
		if err != nil {
			t.Fatal(err)
		}
		if r.State == want && (want != api.ReleaseDeployed || a.Status.Phase == api.PhaseRunning) {
			return a
		}
		if r.State == api.ReleaseFailed && want != api.ReleaseFailed {
			t.Fatalf("release %d failed: %s: %s", release, r.Reason, r.Message)
		}
		if time.Now().After(deadline) {
			t.Fatalf("release %d is %s, want %s; app %+v", release, r.State, want, a.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func gatewayGet(t *testing.T, gw, host string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+gw+"/", nil)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("gateway %s: %d %s", host, resp.StatusCode, b)
	}
	return string(b)
}

// TestInProcess runs the whole server in this process: apply the example
// shop through the Go client, call it through the gateway, roll out a
// change, roll back, and delete.
func TestInProcess(t *testing.T) {
	gwAddr, gwTLSAddr := freeAddr(t), freeAddr(t)
	dataDir := t.TempDir()
	s := runInProcess(t, Config{DataDir: dataDir, GatewayListen: gwAddr, GatewayTLSListen: gwTLSAddr}, "")
	c, apiAddr := s.c, s.api

	shop := filepath.Join("..", "..", "examples", "shop")
	specText, digest := pack(t, c, shop)
	res, err := c.Apply(t.Context(), api.ApplyRequest{Spec: specText, Source: digest})
	if err != nil || !res.Created || res.Release != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	waitRelease(t, c, "shop", 1, api.ReleaseDeployed)
	if got := gatewayGet(t, gwAddr, "shop.localhost"); !strings.Contains(got, "visitor 1.") {
		t.Fatalf("first visit: %q", got)
	}
	checkGatewayTLSAndMetrics(t, gwTLSAddr, apiAddr)

	changed := strings.Replace(specText, "Welcome to the shop", "In-process hello", 1)
	res, err = c.Apply(t.Context(), api.ApplyRequest{Spec: changed, Source: digest})
	if err != nil || res.Release != 2 {
		t.Fatalf("apply v2: %+v %v", res, err)
	}
	waitRelease(t, c, "shop", 2, api.ReleaseDeployed)
	if got := gatewayGet(t, gwAddr, "shop.localhost"); !strings.Contains(got, "In-process hello! You are visitor 2.") {
		t.Fatalf("after rollout: %q", got)
	}

	res, err = c.Rollback(t.Context(), "shop", 0)
	if err != nil || res.Release != 3 {
		t.Fatalf("rollback: %+v %v", res, err)
	}
	waitRelease(t, c, "shop", 3, api.ReleaseDeployed)
	if got := gatewayGet(t, gwAddr, "shop.localhost"); !strings.Contains(got, "Welcome to the shop! You are visitor 3.") {
		t.Fatalf("after rollback: %q", got)
	}

	if err := c.DeleteApp(t.Context(), "shop"); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if _, err := c.GetApp(t.Context(), "shop"); client.IsNotFound(err) {
			break
		}
		if i > 300 {
			t.Fatal("app not deleted within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	ws, err := os.ReadDir(filepath.Join(dataDir, "runtime", "workloads"))
	if err != nil || len(ws) != 0 {
		t.Fatalf("workloads left after delete: %v %v", ws, err)
	}
}

// checkGatewayTLSAndMetrics calls the shop over the gateway's HTTPS
// listener (self-signed, HTTP/2) and finds the gateway's series in the API
// listener's /metrics.
func checkGatewayTLSAndMetrics(t *testing.T, tlsAddr, apiAddr string) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: "shop.localhost"},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://"+tlsAddr+"/healthz", nil) // counts no visitor
	req.Host = "shop.localhost"
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || string(b) != "ok\n" {
		t.Fatalf("gateway over TLS: %s %d %q", resp.Proto, resp.StatusCode, b)
	}
	resp, err = http.Get("http://" + apiAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `berth_gateway_requests_total{app="shop"`) {
		t.Fatalf("/metrics lacks the gateway's request counter:\n%s", b)
	}
}
