package kube

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/runtimetest"
	"github.com/berthdev/berth/internal/spec"
)

// One cluster serves every test of the package (each test has its own
// namespace); tests that need a cluster of their own start one.
var shared struct {
	once sync.Once
	c    *kubetest.Cluster
	err  error
	// logs is the file kwok serves as every container's log (only
	// TestLogsWithContent writes to it).
	logs    string
	logsDir string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := shared.c.Close(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "close the shared cluster:", err)
		}
		cancel()
	}
	if shared.logsDir != "" {
		os.RemoveAll(shared.logsDir)
	}
	os.Exit(code)
}

// sharedCluster starts the package's cluster on first use; without the
// binaries it skips t (fails under CI), naming `make kube-testenv`.
func sharedCluster(t *testing.T) *kubetest.Cluster {
	t.Helper()
	bin := kubetest.RequireBinaries(t)
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if shared.logsDir, shared.err = os.MkdirTemp("", "berth-kube-logs-"); shared.err != nil {
			return
		}
		shared.logs = filepath.Join(shared.logsDir, "pods.log")
		if shared.err = os.WriteFile(shared.logs, nil, 0o644); shared.err != nil {
			return
		}
		shared.c, shared.err = kubetest.New(ctx, bin, kubetest.Options{Nodes: 2, Name: "kube-runtime", PodLogs: shared.logs})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

func restConfig(t *testing.T, c *kubetest.Cluster) *rest.Config {
	t.Helper()
	b, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kubecluster.Config(b, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var nsSeq atomic.Int64

// newRuntime returns a runtime on c in a namespace of its own, closed and
// the namespace deleted when t ends.
func newRuntime(t *testing.T, c *kubetest.Cluster) *Runtime {
	t.Helper()
	sum := sha256.Sum256([]byte(t.Name()))
	ns := fmt.Sprintf("t%d-%s", nsSeq.Add(1), hex.EncodeToString(sum[:4]))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := New(ctx, Options{Config: restConfig(t, c), Cluster: c.Name, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = rt.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = rt.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	})
	return rt
}

// testImage is never pulled: kwok nodes do not run containers.
const testImage = "registry.berth.test/testapp:1"

func suiteWorkload(t *testing.T, name string, kind runtimetest.Kind) runtime.Workload {
	w := runtime.Workload{
		ID: "wl-" + strings.ToLower(name), App: "suite", Service: name, Release: 1, Replicas: 1,
		Spec: spec.Service{
			Image:           testImage,
			Ports:           []spec.Port{{Port: 8080}},
			Env:             map[string]string{runtimetest.AppEnv: kind.String()},
			StopGracePeriod: spec.Duration(2 * time.Second),
		},
	}
	if kind != runtimetest.CrashOnStart {
		w.Spec.Health = &spec.Health{
			HTTP:             &spec.HTTPCheck{Path: runtimetest.HealthPath},
			Interval:         spec.Duration(100 * time.Millisecond),
			Timeout:          spec.Duration(time.Second),
			FailureThreshold: 2,
			SuccessThreshold: 1,
		}
	}
	return w
}

// TestConformance runs the shared runtime suite against a real control
// plane; the nodes are kwok's, so the cases that need the app to run are
// skipped by the Simulated capability.
func TestConformance(t *testing.T) {
	c := sharedCluster(t)
	runtimetest.Run(t, runtimetest.Harness{
		New:       func(t *testing.T) runtime.Runtime { return newRuntime(t, c) },
		Workload:  suiteWorkload,
		Simulated: true,
		Timeout:   60 * time.Second,
	})
}
