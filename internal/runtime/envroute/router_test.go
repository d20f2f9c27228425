package envroute

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/spec"
)

func workload(app string) runtime.Workload {
	return runtime.Workload{ID: app + "-web-r1", App: app, Service: "web", Release: 1, Replicas: 1,
		Spec: spec.Service{Image: "registry.berth.test/" + app + ":1", Ports: []spec.Port{{Port: 8080}}}}
}

// Apps go to their environment's runtime (opened on first use), the others
// to the default one; status, lists, watch and delete span both. The
// runtimes are Kubernetes namespaces of a real control plane: the default
// one stands in for the local runtime.
func TestRouter(t *testing.T) {
	t.Parallel()
	c := kubetest.Start(t, kubetest.Options{Nodes: 1})
	b, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := kubecluster.Config(b, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	newKube := func(ns string) *kube.Runtime {
		rt, err := kube.New(ctx, kube.Options{Config: cfg, Cluster: c.Name, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	def := newKube("local-stand-in")
	defer def.Close()
	envs := map[string]string{"a": "", "b": "staging", "c": "broken", "s": "slow"}
	release := make(chan struct{})
	opened := 0
	r := New(def,
		func(_ context.Context, app string) (string, error) {
			env, ok := envs[app]
			if !ok {
				return "", fmt.Errorf("app %s: %w", app, runtime.ErrNotFound)
			}
			return env, nil
		},
		func(_ context.Context, env string) (runtime.Runtime, error) {
			switch env {
			case "broken":
				return nil, errors.New("cluster eu: cluster unreachable: connection refused")
			case "slow":
				<-release // a cluster that takes its time to answer
				return nil, errors.New("cluster slow: cluster unreachable: i/o timeout")
			}
			opened++
			return newKube("env-" + env), nil
		})
	defer r.Close()

	events, err := r.Watch(ctx) // before the environment is opened
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"a", "b"} {
		if err := r.Apply(ctx, workload(app)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Apply(ctx, workload("b")); err != nil || opened != 1 {
		t.Fatalf("second apply: %v, environments opened %d, want 1", err, opened)
	}
	err = r.Apply(ctx, workload("c"))
	if err == nil || !strings.Contains(err.Error(), "environment broken") || !strings.Contains(err.Error(), "cluster unreachable") {
		t.Fatalf("apply to an environment that cannot be opened: %v", err)
	}
	// While one environment is being opened, the others (and the default
	// runtime) are served.
	slow := make(chan error, 1)
	go func() { slow <- r.Apply(ctx, workload("s")) }()
	time.Sleep(200 * time.Millisecond)
	quick, qcancel := context.WithTimeout(ctx, 2*time.Second)
	if _, err := r.Status(quick, "a-web-r1"); err != nil {
		t.Errorf("Status of a local app while an environment opens: %v", err)
	}
	if err := r.Apply(quick, workload("b")); err != nil {
		t.Errorf("Apply to another environment while one opens: %v", err)
	}
	qcancel()
	close(release)
	if err := <-slow; err == nil || !strings.Contains(err.Error(), "environment slow") {
		t.Errorf("Apply to the slow environment: %v", err)
	}

	for ns, want := range map[string]string{"local-stand-in": "a-web-r1", "env-staging": "b-web-r1"} {
		out, err := c.Kubectl(ctx, "-n", ns, "get", "deployments", "-o", "name")
		if err != nil || strings.TrimSpace(string(out)) != "deployment.apps/"+want {
			t.Errorf("namespace %s has %q (%v), want only %s", ns, out, err, want)
		}
	}
	for _, id := range []string{"a-web-r1", "b-web-r1"} {
		if _, err := r.Status(ctx, id); err != nil {
			t.Errorf("Status(%s): %v", id, err)
		}
	}
	if l, err := r.List(ctx, "b"); err != nil || len(l) != 1 || l[0].ID != "b-web-r1" {
		t.Errorf("List(b) = %+v, %v", l, err)
	}
	if l, err := r.List(ctx, ""); err != nil || len(l) != 2 {
		t.Errorf("List(all) = %d workloads, %v; want 2", len(l), err)
	}
	seen := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for !seen["b-web-r1"] || !seen["a-web-r1"] {
		select {
		case e := <-events:
			seen[e.WorkloadID] = true
		case <-deadline:
			t.Fatalf("events seen: %v; want both apps' (b's runtime was opened after Watch)", seen)
		}
	}
	// The app record is gone (as when the reconciler deletes an app):
	// Delete still finds the workload.
	delete(envs, "b")
	if err := r.Delete(ctx, "b-web-r1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Status(ctx, "b-web-r1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Status after Delete: %v, want ErrNotFound", err)
	}
}
