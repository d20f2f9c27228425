// Command kube measures how Berth's Kubernetes runtime converges many
// services onto a simulated cluster, against `kubectl apply --server-side`
// of the very same objects in the same run:
//
//	go run ./bench/kube [-apps 200] [-services 5] [-nodes 50] [-workers 8]
//
// It starts a real control plane with kwok nodes (internal/kubetest; the
// binaries of `make kube-testenv`), then, each side in a namespace of its
// own (the first one deleted before the second starts), applies every
// object and waits until every Deployment is available. Berth's requests
// are counted by a RoundTripper under its client (informers' lists and
// watches included); kubectl's from its -v=6 request log. It prints both
// figures and their ratios, and the RSS of this process, which holds the
// runtime's informer caches over every workload (the part of a server's
// memory that grows with services on a cluster).
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/kubetest"
	brt "github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/spec"
)

func main() {
	apps := flag.Int("apps", 200, "apps")
	services := flag.Int("services", 5, "services per app")
	nodes := flag.Int("nodes", 50, "kwok nodes")
	workers := flag.Int("workers", 8, "workloads Berth applies at once")
	flag.Parse()
	if err := run(*apps, *services, *nodes, *workers); err != nil {
		fmt.Fprintln(os.Stderr, "bench/kube:", err)
		os.Exit(1)
	}
}

// counter counts the requests that pass through it (every transport the
// runtime's clients make shares n).
type counter struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(r)
}

func workloads(apps, services int) []brt.Workload {
	out := make([]brt.Workload, 0, apps*services)
	for a := range apps {
		app := fmt.Sprintf("app%03d", a)
		for s := range services {
			svc := fmt.Sprintf("svc%d", s)
			out = append(out, brt.Workload{
				ID: app + "-" + svc + "-r1", App: app, Service: svc, Release: 1, Replicas: 1,
				Spec: spec.Service{
					Image: "registry.berth.test/" + svc + ":1", Ports: []spec.Port{{Port: 8080}},
					Env:    map[string]string{"LOG_LEVEL": "info"},
					Health: &spec.Health{HTTP: &spec.HTTPCheck{Path: "/healthz"}, Interval: spec.Duration(5 * time.Second), FailureThreshold: 3},
				},
				Env: map[string]string{"BERTH_APP": app},
			})
		}
	}
	return out
}

func run(apps, services, nodes, workers int) error {
	ctx := context.Background()
	bin, err := kubetest.FindBinaries()
	if err != nil {
		return fmt.Errorf("%w (run `make kube-testenv`)", err)
	}
	start := time.Now()
	c, err := kubetest.New(ctx, bin, kubetest.Options{Nodes: nodes, Name: "bench"})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(context.Background()) }()
	fmt.Printf("cluster: %d kwok nodes ready in %s\n", nodes, time.Since(start).Round(time.Millisecond))
	kubeconfig, err := os.ReadFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	cfg, err := kubecluster.Config(kubeconfig, "")
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit on either side: the server's is the limit
	cfg.Timeout = 0
	watcher := kubernetes.NewForConfigOrDie(cfg)
	ws := workloads(apps, services)

	kTime, kReqs, err := kubectlSide(ctx, c, watcher, ws)
	if err != nil {
		return fmt.Errorf("kubectl: %w", err)
	}
	fmt.Printf("kubectl apply --server-side: %d services available in %s, %d API requests\n", len(ws), kTime.Round(time.Millisecond), kReqs)
	if err := deleteNamespace(ctx, watcher, "bench-kubectl"); err != nil {
		return err
	}
	bTime, bReqs, rss, err := berthSide(ctx, cfg, watcher, ws, workers)
	if err != nil {
		return fmt.Errorf("berth: %w", err)
	}
	fmt.Printf("berth (kube runtime, %d workers): %d services available in %s, %d API requests\n", workers, len(ws), bTime.Round(time.Millisecond), bReqs)
	fmt.Printf("ratio berth/kubectl: time %.2fx (target <= 1.2x), requests %.2fx\n",
		bTime.Seconds()/kTime.Seconds(), float64(bReqs)/float64(kReqs))
	fmt.Printf("RSS of the process holding the runtime at %d services: %.1f MB (target < 200 MB)\n", len(ws), float64(rss)/1024)
	return nil
}

// kubectlSide writes every object into one List and applies it with
// kubectl, counting the requests in its -v=6 log.
func kubectlSide(ctx context.Context, c *kubetest.Cluster, watcher kubernetes.Interface, ws []brt.Workload) (time.Duration, int, error) {
	const ns = "bench-kubectl"
	items := []any{map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	for _, w := range ws {
		objs, err := kube.Objects(w, ns, "")
		if err != nil {
			return 0, 0, err
		}
		items = append(items, objs...)
	}
	b, err := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": items})
	if err != nil {
		return 0, 0, err
	}
	file := filepath.Join(os.TempDir(), "berth-bench-kube.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return 0, 0, err
	}
	defer os.Remove(file)
	begin := time.Now()
	cmd := exec.CommandContext(ctx, c.Bin.Path("kubectl"), "--kubeconfig", c.Kubeconfig, "apply", "--server-side",
		"--field-manager", "bench", "-f", file, "-v=6")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	if err := cmd.Run(); err != nil {
		return 0, 0, fmt.Errorf("%w: %s", err, tail(stderr.String()))
	}
	if err := waitAvailable(ctx, watcher, ns, len(ws)); err != nil {
		return 0, 0, err
	}
	return time.Since(begin), countRequests(stderr.String()), nil
}

// requestLine matches the request lines of kubectl -v=6 (klog's round
// tripper logs each: "GET https://... 200 OK in 3 milliseconds", or in
// the structured form `"Response" verb="GET" url="https://..."`).
var requestLine = regexp.MustCompile(`(?:\] (GET|POST|PUT|PATCH|DELETE) https?://|"Response" verb="(GET|POST|PUT|PATCH|DELETE)")`)

func countRequests(log string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if requestLine.MatchString(sc.Text()) {
			n++
		}
	}
	return n
}

// berthSide applies every workload through the runtime, workers at a
// time, as the reconciler's workers do.
func berthSide(ctx context.Context, cfg *rest.Config, watcher kubernetes.Interface, ws []brt.Workload, workers int) (time.Duration, int64, int64, error) {
	const ns = "bench-berth"
	var n atomic.Int64
	bcfg := rest.CopyConfig(cfg)
	bcfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &counter{next: rt, n: &n} })
	begin := time.Now()
	rt, err := kube.New(ctx, kube.Options{Config: bcfg, Cluster: "bench", Namespace: ns, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return 0, 0, 0, err
	}
	defer func() { _ = rt.Close() }()
	jobs := make(chan brt.Workload)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for range workers {
		wg.Go(func() {
			for w := range jobs {
				if err := rt.Apply(ctx, w); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, w := range ws {
		jobs <- w
	}
	close(jobs)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, 0, 0, err
	}
	if err := waitAvailable(ctx, watcher, ns, len(ws)); err != nil {
		return 0, 0, 0, err
	}
	took, reqs := time.Since(begin), n.Load()
	runtime.GC()
	rss, err := selfRSS()
	return took, reqs, rss, err
}

// waitAvailable polls (with its own client, not counted) until n
// Deployments of ns are available.
func waitAvailable(ctx context.Context, c kubernetes.Interface, ns string, n int) error {
	deadline := time.Now().Add(30 * time.Minute)
	for {
		list, err := c.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err == nil {
			avail := 0
			for _, d := range list.Items {
				if d.Status.AvailableReplicas >= 1 {
					avail++
				}
			}
			if avail >= n {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("namespace %s: %d of %d Deployments available after 30m", ns, avail, n)
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func deleteNamespace(ctx context.Context, c kubernetes.Interface, ns string) error {
	if err := c.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, err := c.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			return nil
		}
		if i > 1200 {
			return fmt.Errorf("namespace %s still there after 10m", ns)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func selfRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no VmRSS in /proc/self/status")
}

func tail(s string) string {
	if len(s) > 2000 {
		return s[len(s)-2000:]
	}
	return s
}
