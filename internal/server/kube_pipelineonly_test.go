package server

import (
	"strings"
	"testing"

	"github.com/berthdev/berth/pkg/api"
)

// On a cluster, a release that changes only the pipeline section keeps the
// running pods: no new Deployment, ReplicaSet or pod, the Deployment's
// generation (its spec) unchanged. One that changes a service as well
// rolls out a new Deployment.
func TestPipelineOnlyOnCluster(t *testing.T) {
	c, kc, _ := startWithCluster(t, "staging", "pipe-staging")
	spec := func(run, tag string) string {
		return `name: shop
source: {git: https://git.example.test/shop.git}
services:
  web:
    image: registry.berth.test/shop-web:` + tag + `
    ports: [8080]
    replicas: 2
pipeline:
  on: [manual]
  steps:
    - {name: test, run: ` + run + `}
`
	}
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := kc.Kubectl(t.Context(), append([]string{"-n", "pipe-staging"}, args...)...)
		if err != nil {
			t.Fatalf("kubectl %s: %v %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	objects := func() string {
		return kubectl("get", "deployments,replicasets,pods", "-l", "berth.dev/app=shop", "-o", "name")
	}

	if res, err := c.Apply(t.Context(), api.ApplyRequest{Spec: spec("go test ./...", "1"), Env: "staging"}); err != nil || res.Release != 1 {
		t.Fatalf("apply: %+v %v", res, err)
	}
	waitRelease(t, c, "shop", 1, api.ReleaseDeployed)
	kubectlEventually(t, kc, "both pods ready", "2",
		"-n", "pipe-staging", "get", "deployment", "shop-web-r1", "-o", "jsonpath={.status.readyReplicas}")
	before, generation := objects(), kubectl("get", "deployment", "shop-web-r1", "-o", "jsonpath={.metadata.generation}")
	if strings.Count(before, "pod/") != 2 || strings.Count(before, "replicaset.apps/") != 1 {
		t.Fatalf("objects of release 1:\n%s", before)
	}

	res, err := c.Apply(t.Context(), api.ApplyRequest{Spec: spec("go vet ./...", "1"), Env: "staging"})
	if err != nil || !res.Created || res.Release != 2 || res.KeepsInstancesOf != 1 {
		t.Fatalf("pipeline-only apply: %+v %v; want release 2 keeping release 1's instances", res, err)
	}
	a := waitRelease(t, c, "shop", 2, api.ReleaseDeployed)
	if a.Status.Serving != 2 {
		t.Errorf("serving %d, want 2", a.Status.Serving)
	}
	if after := objects(); after != before {
		t.Errorf("objects after a pipeline-only release:\n%s\nwant the same as before:\n%s", after, before)
	}
	if g := kubectl("get", "deployment", "shop-web-r1", "-o", "jsonpath={.metadata.generation}"); g != generation {
		t.Errorf("the Deployment's generation went from %s to %s: its pod template changed", generation, g)
	}

	// The pipeline and the image: a new Deployment.
	res, err = c.Apply(t.Context(), api.ApplyRequest{Spec: spec("go test ./...", "2"), Env: "staging"})
	if err != nil || res.Release != 3 || res.KeepsInstancesOf != 0 {
		t.Fatalf("apply of a pipeline and image change: %+v %v; want release 3 rolled out", res, err)
	}
	waitRelease(t, c, "shop", 3, api.ReleaseDeployed)
	kubectlEventually(t, kc, "release 3's Deployment alone", "deployment.apps/shop-web-r3",
		"-n", "pipe-staging", "get", "deployments", "-l", "berth.dev/app=shop", "-o", "name")
	kubectlEventually(t, kc, "release 1's Deployment gone", "",
		"-n", "pipe-staging", "get", "deployment", "shop-web-r1", "--ignore-not-found", "-o", "name")
}
