package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/pkg/api"
)

// A step with a cache on a cluster: the first run misses and saves, the
// second run of the same commit hits and gets the files back as saved.
// kwok runs no containers, so the test plays the step pod's wrapper with
// the very agent commands of the pod's spec (in-process), the token and
// key of the pod's Secret, on a folder standing for the pod's volume.
// The key is expanded by the server from its checkout ({{ hash }} of
// go.sum), and neither it nor the token is in the pod spec.
func TestPipelineCacheOnClusterEnvironment(t *testing.T) {
	const ns = "ci-cache"
	c, kc, _ := startWithCluster(t, "ci", ns, func(cfg *Config) {
		cfg.Pipelines.DefaultImage = "registry.berth.test/busybox:1"
		cfg.Pipelines.CheckoutImage = "registry.berth.test/git:1"
	})
	kube := kc.Client(t)
	ctx := t.Context()
	url, _ := servedRepo(t, "", func(url string) map[string]string {
		return map[string]string{
			"berth.yaml": fmt.Sprintf("name: shop\nsource: {git: %s, branch: main}\nservices:\n  web:\n    image: registry.berth.test/shop-web:1\n    ports: [8080]\n", url),
			"go.sum":     "example.com/dep v1.0.0 h1:abc\n",
			".berth/pipeline.yaml": `on: [manual]
executor: {env: ci}
steps:
  - name: deps
    run: go mod download
    cache:
      key: deps-{{ hash "go.sum" }}
      paths: [vendor, ~/.cache/mod]
`,
		}
	})
	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: fmt.Sprintf("name: shop\nsource: {git: %s, branch: main}\nservices:\n  web:\n    image: registry.berth.test/shop-web:1\n    ports: [8080]\n", url), Env: "ci"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var played []string // what each deps pod's restore said
	let := startFakeKubelet(t, kube, ns)
	let.set(func(p corev1.Pod) (int32, bool) {
		if p.Labels["berth.dev/pipeline-step"] != "deps" {
			return 0, true
		}
		said, err := playCachedStep(ctx, kube, ns, p)
		if err != nil {
			t.Errorf("the deps pod: %v", err)
			return 1, true
		}
		mu.Lock()
		played = append(played, said)
		mu.Unlock()
		return 0, true
	})

	first := startAndWait(t, c, "shop")
	second := startAndWait(t, c, "shop")
	for _, run := range []api.Run{first, second} {
		if run.State != api.RunSucceeded {
			t.Fatalf("run %s: %s (%s)\n%s", run.ID, run.State, run.Reason, runLog(t, c, run.ID))
		}
	}
	c1, c2 := stepNamed(first, "deps").Cache, stepNamed(second, "deps").Cache
	if c1 == nil || c2 == nil || !strings.HasPrefix(c1.Key, "deps-") || len(c1.Key) != len("deps-")+16 || c2.Key != c1.Key {
		t.Fatalf("cache records %+v and %+v: want one expanded key", c1, c2)
	}
	if c1.Hit || !c1.Saved || !c2.Hit || c2.Saved {
		t.Errorf("first run %+v (want a saving miss), second %+v (want a hit)", c1, c2)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(played) != 2 || played[0] != "miss" || played[1] != "hit" {
		t.Errorf("the pods' restores: %v, want miss then hit", played)
	}
}

// playCachedStep plays a cached step pod's wrapper: restore with the
// command's cache URL into a fresh folder (the volume); on a miss it
// "runs the script" (writes the cached files) and saves them; on a hit it
// checks the files came back as the first run wrote them. It says "miss"
// or "hit".
func playCachedStep(ctx context.Context, kube kubernetes.Interface, ns string, p corev1.Pod) (string, error) {
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	tok, key := string(sec.Data[cli.StepTokenEnv]), string(sec.Data[cli.CacheKeyEnv])
	spec, _ := json.Marshal(p.Spec)
	cmd := p.Spec.Containers[0].Command
	switch {
	case tok == "" || key == "" || strings.Contains(string(spec), tok) || strings.Contains(string(spec), key):
		return "", fmt.Errorf("token %q or key %q missing from the Secret or present in the spec", tok, key)
	// script, cache URL, upload URL (none), 2 cache paths.
	case len(cmd) != 10 || !strings.HasSuffix(cmd[5], "/cache/deps") || cmd[6] != "" || cmd[7] != "2":
		return "", fmt.Errorf("command %q", cmd)
	}
	n, _ := strconv.Atoi(cmd[7])
	paths := cmd[8 : 8+n]
	vol := filepath.Join(os.TempDir(), "berth-cache-"+p.Name)
	defer os.RemoveAll(vol)
	src, home := filepath.Join(vol, "src"), filepath.Join(vol, "home")
	for _, d := range []string{src, home} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	agent := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := cli.Execute(ctx, append([]string{"step-agent", "cache"}, args...), cli.Options{
			Stdout: &out, Stderr: &out,
			Getenv: func(k string) string { return map[string]string{cli.StepTokenEnv: tok, cli.CacheKeyEnv: key}[k] },
		})
		return code, out.String()
	}
	files := map[string]string{filepath.Join(src, "vendor", "dep.go"): "package dep", filepath.Join(home, ".cache", "mod", "dep.zip"): "zip bytes"}
	code, out := agent("restore", "--url", cmd[5], "--dir", src, "--home", home)
	switch code {
	case 0:
		for name, want := range files {
			if got, err := os.ReadFile(name); err != nil || string(got) != want {
				return "", fmt.Errorf("restored %s = %q (%v), want %q\n%s", name, got, err, want, out)
			}
		}
		return "hit", nil
	case cli.ExitCacheMiss:
	default:
		return "", fmt.Errorf("restore: exit %d: %s", code, out)
	}
	for name, body := range files {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	if code, out := agent(append([]string{"save", "--url", cmd[5], "--dir", src, "--home", home, "--count", cmd[7], "--"}, paths...)...); code != 0 || !strings.Contains(out, "saved key "+key) {
		return "", fmt.Errorf("save: exit %d: %s", code, out)
	}
	return "miss", nil
}
