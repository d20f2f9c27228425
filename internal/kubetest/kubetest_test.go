package kubetest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The cache is keyed by KubeVersion while hack/kubeenv/go.mod decides what
// is built: if they drift, every test would skip (or fail in CI) with
// "binaries missing" instead of a clear message.
func TestVersionsMatchHackKubeenv(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..", "hack", "kubeenv")
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var kube string
	for line := range strings.Lines(string(gomod)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "k8s.io/kubernetes" {
			kube = f[1]
		}
	}
	if kube != KubeVersion {
		t.Errorf("hack/kubeenv/go.mod requires k8s.io/kubernetes %q, kubetest.KubeVersion is %q", kube, KubeVersion)
	}
	script, err := os.ReadFile(filepath.Join(root, "build.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "KWOK_VERSION=" + KwokVersion + "\n"; !strings.Contains(string(script), want) {
		t.Errorf("hack/kubeenv/build.sh does not set %q (kubetest.KwokVersion)", strings.TrimSpace(want))
	}
}

func TestFindBinariesNamesWhatIsMissing(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("BERTH_KUBE_CACHE", dir)
	// One binary built for this version, one for another, the rest absent.
	writeBinary(t, dir, binKubeApiserver, "k8s.io/kubernetes "+KubeVersion)
	writeBinary(t, dir, binKubeScheduler, "k8s.io/kubernetes v1.0.0")

	_, err := FindBinaries()
	if !errors.Is(err, ErrBinariesMissing) {
		t.Fatalf("FindBinaries() error = %v, want ErrBinariesMissing", err)
	}
	for _, name := range []string{binEtcd, binKubeScheduler, binKwokctl} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), binKubeApiserver+",") {
		t.Errorf("error %q names %s, which is built", err, binKubeApiserver)
	}

	for _, name := range allBinaries {
		stamp := "k8s.io/kubernetes " + KubeVersion
		switch name {
		case binKwok, binKwokctl:
			stamp = "sigs.k8s.io/kwok " + KwokVersion
		case binEtcd:
			stamp = "go.etcd.io/etcd/server/v3 v3.6.8"
		}
		writeBinary(t, dir, name, stamp)
	}
	bin, err := FindBinaries()
	if err != nil {
		t.Fatalf("FindBinaries() with all binaries: %v", err)
	}
	if bin.Path(binKubectl) != filepath.Join(dir, binKubectl) {
		t.Errorf("Path(kubectl) = %s, want it in %s", bin.Path(binKubectl), dir)
	}
}

func writeBinary(t *testing.T, dir, name, stamp string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "stamps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "stamps", name), []byte(stamp+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCountReady(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc         string
		out          string
		ready, total int
	}{
		{desc: "none", out: "", ready: 0, total: 0},
		{desc: "all ready", out: "kwok-node-0=True\nkwok-node-1=True\n", ready: 2, total: 2},
		{desc: "one not ready", out: "a=True\nb=False\n", ready: 1, total: 2},
		{desc: "no condition yet", out: "a=\n", ready: 0, total: 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			ready, total := countReady(tt.out)
			if ready != tt.ready || total != tt.total {
				t.Errorf("countReady(%q) = %d, %d; want %d, %d", tt.out, ready, total, tt.ready, tt.total)
			}
		})
	}
}

func TestClusterName(t *testing.T) {
	t.Parallel()
	tests := []struct{ desc, in, want string }{
		{desc: "test name", in: "TestDeployment/two_nodes", want: "testdeployment-two-nodes"},
		{desc: "empty", in: "", want: "cluster"},
		{desc: "only symbols", in: "//__", want: "cluster"},
		{desc: "long", in: strings.Repeat("ab-", 20), want: "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if got := clusterName(tt.in); got != tt.want {
				t.Errorf("clusterName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: registry.invalid/web:1
`

// A Deployment applied to the cluster is scheduled onto the simulated nodes
// and its pods reach Running: the scheduler, the controller manager and kwok
// all take part.
func TestDeploymentPodsRunOnSimulatedNodes(t *testing.T) {
	t.Parallel()
	c := Start(t, Options{Nodes: 2})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// Clients must see the real version, not v0.0.0-master.
	out, err := c.Kubectl(ctx, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var version struct {
		Server struct{ GitVersion string } `json:"serverVersion"`
	}
	if err := json.Unmarshal(out, &version); err != nil {
		t.Fatalf("parse kubectl version: %v: %s", err, out)
	}
	if version.Server.GitVersion != KubeVersion {
		t.Errorf("server version %q, want %q", version.Server.GitVersion, KubeVersion)
	}

	nodes := map[string]bool{}
	out, err = c.Kubectl(ctx, "get", "nodes", "-o", "name")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		nodes[strings.TrimPrefix(strings.TrimSpace(line), "node/")] = true
	}
	if len(nodes) != 2 {
		t.Fatalf("nodes = %v, want 2", nodes)
	}

	if err := c.Apply(ctx, []byte(deployment)); err != nil {
		t.Fatal(err)
	}
	var last string
	for {
		out, err := c.Kubectl(ctx, "get", "pods", "-n", "default", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.spec.nodeName} {.status.phase}{"\n"}{end}`)
		if err != nil {
			t.Fatal(err)
		}
		last = string(out)
		if running, err := allRunning(last, 3, nodes); err != nil {
			t.Fatal(err)
		} else if running {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("pods did not all reach Running: %s", last)
		case <-time.After(pollInterval):
		}
	}
	t.Logf("pods:\n%s", last)
}

// allRunning reports whether out ("name node phase" lines) has want pods,
// all Running; it fails when a pod runs on a node that is not a kwok node.
func allRunning(out string, want int, nodes map[string]bool) (bool, error) {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "Running" {
			return false, nil
		}
		if !nodes[f[1]] {
			return false, fmt.Errorf("pod %s runs on %q, not on a simulated node %v", f[0], f[1], nodes)
		}
		n++
	}
	return n == want, nil
}

// Two clusters created at the same moment get their own ports, work
// directories and data: an object made in one is absent from the other.
func TestTwoClustersAtOnce(t *testing.T) {
	t.Parallel()
	bin := RequireBinaries(t)
	ctx, cancel := context.WithTimeout(t.Context(), startTimeout)
	defer cancel()

	var (
		wg       sync.WaitGroup
		clusters [2]*Cluster
		errs     [2]error
	)
	for i := range clusters {
		wg.Go(func() {
			clusters[i], errs[i] = New(ctx, bin, Options{Nodes: 1, Name: fmt.Sprintf("twins-%d", i)})
		})
	}
	wg.Wait()
	for _, c := range clusters {
		if c != nil {
			t.Cleanup(func() {
				if err := c.Close(context.Background()); err != nil {
					t.Errorf("close %s: %v", c.Name, err)
				}
			})
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatal(err)
	}
	a, b := clusters[0], clusters[1]
	t.Logf("started %s in %s and %s in %s", a.Name, a.StartTime, b.Name, b.StartTime)
	if a.Server == b.Server {
		t.Fatalf("both clusters serve %s", a.Server)
	}

	if _, err := a.Kubectl(ctx, "create", "configmap", "only-in-a", "-n", "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Kubectl(ctx, "get", "configmap", "only-in-a", "-n", "default"); err != nil {
		t.Fatalf("configmap missing from the cluster it was made in: %v", err)
	}
	_, err := b.Kubectl(ctx, "get", "configmap", "only-in-a", "-n", "default")
	if err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("configmap made in %s: in %s got err %v, want NotFound", a.Name, b.Name, err)
	}

	// Stopping one leaves the other serving.
	if err := a.Close(ctx); err != nil {
		t.Fatalf("close %s: %v", a.Name, err)
	}
	if _, err := os.Stat(a.Workdir); !os.IsNotExist(err) {
		t.Errorf("work directory %s still there after Close (stat: %v)", a.Workdir, err)
	}
	if _, err := b.Kubectl(ctx, "get", "--raw", "/readyz"); err != nil {
		t.Fatalf("%s stopped answering when %s was closed: %v", b.Name, a.Name, err)
	}
	if conn, err := net.DialTimeout("tcp", strings.TrimPrefix(a.Server, "https://"), time.Second); err == nil {
		conn.Close()
		t.Errorf("%s still listens on %s after Close", a.Name, a.Server)
	}
}

// TestPortTakenIn: a component log that reports a failed bind is found
// (New then retries with new ports instead of waiting for nodes that
// never get Ready); logs without one are not.
func TestPortTakenIn(t *testing.T) {
	c := &Cluster{Workdir: t.TempDir(), Name: "x"}
	logs := filepath.Join(c.Workdir, "clusters", "x", "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(logs, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("etcd.log", "serving client traffic\n")
	if got := c.portTakenIn(); got != "" {
		t.Fatalf("portTakenIn = %q with healthy logs, want none", got)
	}
	write("kwok-controller.log", `{"msg":"Failed to run server","err":"listen tcp 0.0.0.0:40003: bind: address already in use"}`+"\n")
	if got := c.portTakenIn(); got != "kwok-controller.log" {
		t.Fatalf("portTakenIn = %q, want kwok-controller.log", got)
	}
}
