package server

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// A pipeline's deploy step with env: staging releases the app into that
// environment: the server's reconciler rolls the new release out on the
// environment's cluster (a real control plane with kwok nodes).
func TestPipelineDeploysToClusterEnvironment(t *testing.T) {
	c, kc, _ := startWithCluster(t, "staging", "shop-staging")
	const berth = `name: shop
source: {git: %s, branch: main}
services:
  web:
    image: registry.berth.test/shop-web:%s
    ports: [8080]
    health: {http: {path: /healthz}, interval: 1s}
`
	// The repository holds version 2; release 1 (version 1) is applied by hand.
	url, _ := servedRepo(t, "", func(url string) map[string]string {
		return map[string]string{
			"berth.yaml":           fmt.Sprintf(berth, url, "2"),
			".berth/pipeline.yaml": "on: [manual]\nsteps:\n  - name: ship\n    timeout: 3m\n    deploy: {env: staging}\n",
		}
	})

	if _, err := c.Apply(t.Context(), api.ApplyRequest{Spec: fmt.Sprintf(berth, url, "1"), Env: "staging"}); err != nil {
		t.Fatal(err)
	}
	waitRelease(t, c, "shop", 1, api.ReleaseDeployed)
	run, err := c.StartRun(t.Context(), "shop", api.RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		if run, err = c.GetRun(t.Context(), run.ID); err == nil && (run.State == api.RunSucceeded || run.State == api.RunFailed) {
			break
		}
		if i > 1800 {
			t.Fatalf("run %s did not end: %+v %v", run.ID, run, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	logs, err := c.RunLogs(t.Context(), run.ID, false)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(logs)
	logs.Close()
	if run.State != api.RunSucceeded {
		t.Fatalf("run %s: %s (%s)\n%s", run.ID, run.State, run.Reason, text)
	}
	if !strings.Contains(string(text), "release 2 of shop created in environment staging (cluster kwok, namespace shop-staging)") {
		t.Errorf("log:\n%s", text)
	}
	a := waitRelease(t, c, "shop", 2, api.ReleaseDeployed)
	if a.Env != "staging" {
		t.Errorf("app env %q", a.Env)
	}
	out, err := kc.Kubectl(t.Context(), "-n", "shop-staging", "get", "deployment", "shop-web-r2", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	if err != nil || string(out) != "registry.berth.test/shop-web:2" {
		t.Errorf("release 2's deployment on the cluster: image %q, %v", out, err)
	}
}
