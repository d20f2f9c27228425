package kube

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

const waitTimeout = 60 * time.Second

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it returns "" or the timeout passes.
func eventually(t *testing.T, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		last := cond()
		if last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s, still waiting for %s: %s", waitTimeout, what, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mustApply(t *testing.T, rt *Runtime, w runtime.Workload) {
	t.Helper()
	if err := rt.Apply(ctxFor(t, 20*time.Second), w); err != nil {
		t.Fatalf("Apply(%s): %v", w.ID, err)
	}
}

// waitReady waits for exactly n ready, running instances.
func waitReady(t *testing.T, rt *Runtime, id string, n int) runtime.WorkloadStatus {
	t.Helper()
	var ws runtime.WorkloadStatus
	eventually(t, fmt.Sprintf("%d ready instances of %s", n, id), func() string {
		var err error
		if ws, err = rt.Status(context.Background(), id); err != nil {
			return err.Error()
		}
		if ws.Ready != n || len(ws.Instances) != n {
			return describe(ws)
		}
		for _, in := range ws.Instances {
			if !in.Ready || in.State != runtime.StateRunning {
				return describe(ws)
			}
		}
		return ""
	})
	return ws
}

func describe(ws runtime.WorkloadStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "replicas %d ready %d message %q: ", ws.Replicas, ws.Ready, ws.Message)
	for _, in := range ws.Instances {
		fmt.Fprintf(&b, "[%s %s ready=%v node=%s restarts=%d %q] ", in.ID, in.State, in.Ready, in.Node, in.Restarts, in.Message)
	}
	return b.String()
}

func names(ws runtime.WorkloadStatus) map[string]bool {
	m := map[string]bool{}
	for _, in := range ws.Instances {
		m[in.ID] = true
	}
	return m
}

func kubectl(t *testing.T, c *kubetest.Cluster, rt *Runtime, args ...string) string {
	t.Helper()
	out, err := c.Kubectl(ctxFor(t, 30*time.Second), append([]string{"-n", rt.Namespace()}, args...)...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// webWorkload is a service of app "shop" at the given release.
func webWorkload(release, replicas int) runtime.Workload {
	return runtime.Workload{
		ID: fmt.Sprintf("shop-web-r%d", release), App: "shop", Service: "web", Release: release, Replicas: replicas,
		Spec: spec.Service{
			Image: testImage,
			Ports: []spec.Port{{Port: 8080}},
			Health: &spec.Health{
				HTTP: &spec.HTTPCheck{Path: "/healthz"}, Interval: spec.Duration(time.Second), FailureThreshold: 3,
			},
		},
		Env: map[string]string{"BERTH_RELEASE": fmt.Sprint(release)},
	}
}
