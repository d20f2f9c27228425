package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/cli"
	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/pipeline/gitsrc/gittest"
	"github.com/berthdev/berth/pkg/api"
	"github.com/berthdev/berth/pkg/client"
)

// A pipeline with executor: {env: ci} runs its steps as pods in the
// environment's namespace on a real control plane (kwok nodes). kwok runs
// no containers, so the test plays the kubelet's last part: it writes each
// pod's terminated state (exit code) once kwok made it Running, and binds
// the run's workspace claim to a volume it makes (no provisioner runs).
//
// What it proves: the run's workspace is seeded by a checkout pod that
// names the exact commit and reaches the private repository's token only
// through a Secret it owns (mounted as files, nothing in its spec); the
// steps become pods in DAG order, after the checkout, with their images
// or the server's --pipeline-default-image; exit codes drive the run;
// a failed checkout fails the run before any step; cancelling a run
// deletes its running pod; the claim and pods are gone after each run; pipeline show reports the file, status and executor.
// The build keeps artifacts: its pod carries the step agent (init
// container of the server's Berth image, token only in its Secret), the
// test runs that agent's upload with the Secret's token as the pod would,
// and the server records the archive on the step and serves it.
func TestPipelineStepsOnClusterEnvironment(t *testing.T) {
	berthFor := func(url string) string {
		return fmt.Sprintf(`name: shop
source: {git: %s, branch: main, secret: GIT_TOKEN}
services:
  web:
    image: registry.berth.test/shop-web:1
    ports: [8080]
`, url)
	}
	const ns, token = "ci-runs", "git-tok-Zr41-only-in-a-secret"
	c, kc, apiAddr := startWithCluster(t, "ci", ns, func(cfg *Config) {
		cfg.Pipelines.DefaultImage = "registry.berth.test/busybox:1"
		cfg.Pipelines.CheckoutImage = "registry.berth.test/git:1"
		// Sweeps run all through the test: the runs below must not lose
		// an object to one.
		cfg.Pipelines.SweepEvery = time.Second
	})
	kube := kc.Client(t)
	ctx := t.Context()

	url, commit := servedRepo(t, token, func(url string) map[string]string {
		return map[string]string{
			"berth.yaml": berthFor(url),
			".berth/pipeline.yaml": `on: [manual]
executor: {env: ci}
steps:
  - name: build
    image: registry.berth.test/golang:1
    run: go build ./...
    artifacts: [bin/]
  - name: test
    needs: [build]
    run: go test ./...
  - name: lint
    needs: [test]
    image: registry.berth.test/alpine:1
    run: exit 3
`,
		}
	})
	berthYAML := berthFor(url)

	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: berthYAML, Env: "ci"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetSecret(ctx, "shop", "GIT_TOKEN", token); err != nil {
		t.Fatal(err)
	}

	let := startFakeKubelet(t, kube, ns)
	let.set(func(p corev1.Pod) (int32, bool) {
		switch p.Labels["berth.dev/pipeline-step"] {
		case "lint":
			return 3, true
		case "build":
			// kwok runs no container: play the build pod's end, the step
			// agent sending bin/ with the token from the step's Secret.
			if err := playStepAgent(ctx, kube, ns, p); err != nil {
				t.Errorf("the build pod's agent: %v", err)
				return 1, true
			}
		}
		return 0, true
	})

	var ended corev1.Pod // the checkout pod of a run that ended
	t.Run("steps in order, exit codes", func(t *testing.T) {
		run := startAndWait(t, c, "shop")
		if run.State != api.RunFailed || !strings.Contains(run.Reason, "step lint failed: exit code 3") {
			t.Fatalf("run %s: %s (%s)\n%s", run.ID, run.State, run.Reason, runLog(t, c, run.ID))
		}
		if run.Commit != commit {
			t.Errorf("run commit %s, want %s", run.Commit, commit)
		}
		for name, want := range map[string]string{"build": "success", "test": "success", "lint": "failure"} {
			if s := stepNamed(run, name); s.Status != want {
				t.Errorf("step %s: %s (%s), want %s", name, s.Status, s.Reason, want)
			}
		}
		seen := let.seen()
		var order []string
		for _, p := range seen {
			order = append(order, p.role)
		}
		if strings.Join(order, " ") != "checkout build test lint" {
			t.Fatalf("pods in the order %v; want checkout build test lint", order)
		}
		co := seen[0]
		ended = co.pod
		spec, _ := json.Marshal(co.pod.Spec)
		cont := co.pod.Spec.Containers[0]
		switch {
		case strings.Contains(string(spec), token) || strings.Contains(string(spec), url):
			t.Errorf("the checkout pod's spec holds the token or URL: %s", spec)
		case envValue(cont, "BERTH_COMMIT") != commit || envValue(cont, "BERTH_REF") != "refs/heads/main":
			t.Errorf("checkout env %+v; want commit %s", cont.Env, commit)
		case cont.Image != "registry.berth.test/git:1":
			t.Errorf("checkout image %s", cont.Image)
		case co.secret == nil || string(co.secret.Data["token"]) != token || string(co.secret.Data["url"]) != url:
			t.Errorf("checkout secret %+v", co.secret)
		case len(co.secret.OwnerReferences) != 1 || co.secret.OwnerReferences[0].UID != co.pod.UID:
			t.Errorf("the checkout secret is not owned by its pod: %+v", co.secret.OwnerReferences)
		}
		if v := secretVolume(co.pod); v == nil || v.SecretName != co.pod.Name {
			t.Errorf("the checkout pod mounts %+v; want its own secret", v)
		}
		for i, want := range []string{"registry.berth.test/golang:1", "registry.berth.test/busybox:1", "registry.berth.test/alpine:1"} {
			p := seen[i+1].pod
			if got := p.Spec.Containers[0].Image; got != want {
				t.Errorf("step %s runs %s, want %s", seen[i+1].role, got, want)
			}
			if p.Spec.Volumes[0].PersistentVolumeClaim == nil || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != co.pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName {
				t.Errorf("step %s does not mount the run's workspace: %+v", seen[i+1].role, p.Spec.Volumes)
			}
		}
		// The build's artifacts came from its pod through the agent's
		// upload, and download as the server kept them.
		a := stepNamed(run, "build").Artifacts
		if a == nil || strings.Join(a.Files, ",") != "bin/app" {
			t.Fatalf("build artifacts %+v\n%s", a, runLog(t, c, run.ID))
		}
		rc, digest, err := c.DownloadArtifacts(ctx, run.ID, "build")
		if err != nil {
			t.Fatal(err)
		}
		got, err := artifact.Extract(rc, t.TempDir(), 1<<20)
		rc.Close()
		if err != nil || digest != a.Digest || strings.Join(got, ",") != "bin/app" {
			t.Errorf("download: %v %s, %v", got, digest, err)
		}
		log := runLog(t, c, run.ID)
		if strings.Contains(log, token) || !strings.Contains(log, "steps run as pods in environment ci (cluster kwok, namespace "+ns+")") {
			t.Errorf("log:\n%s", log)
		}
		waitGone(t, kube, ns, "the run's pods and workspace claim")

		p, err := c.GetPipeline(ctx, "shop")
		if err != nil || p.File != ".berth/pipeline.yaml" || p.Status != "" || p.Executor != "ci" {
			t.Errorf("pipeline %+v %v; want file .berth/pipeline.yaml, executor ci", p, err)
		}
	})

	t.Run("a failed checkout fails the run", func(t *testing.T) {
		let.set(func(p corev1.Pod) (int32, bool) {
			if p.Labels["berth.dev/pipeline-checkout"] == "true" {
				return 128, true // git's exit code for a refused fetch
			}
			t.Errorf("step pod %s made after a failed checkout", p.Name)
			return 0, true
		})
		run := startAndWait(t, c, "shop")
		want := "checkout on environment ci: kube executor: the checkout of " + commit + " failed with exit code 128"
		if run.State != api.RunFailed || !strings.Contains(run.Reason, want) {
			t.Fatalf("run %s: %s (%s); want failed with %q\n%s", run.ID, run.State, run.Reason, want, runLog(t, c, run.ID))
		}
		waitGone(t, kube, ns, "the failed run's pods and workspace claim")
	})

	t.Run("cancel deletes the pod", func(t *testing.T) {
		// The build runs until the run is cancelled.
		run, build := startRunningBuild(t, c, let)
		if _, err := c.CancelRun(ctx, run.ID); err != nil {
			t.Fatal(err)
		}
		run = waitRunEnd(t, c, run.ID)
		if run.State != api.RunCancelled {
			t.Fatalf("run %s: %s (%s)\n%s", run.ID, run.State, run.Reason, runLog(t, c, run.ID))
		}
		waitUntil(t, "the build's pod is deleted", func() bool {
			_, err := kube.CoreV1().Pods(ns).Get(ctx, build.Name, metav1.GetOptions{})
			return apierrors.IsNotFound(err)
		})
		waitGone(t, kube, ns, "the cancelled run's pods and workspace claim")
	})

	t.Run("leftovers of ended runs are swept, a live run's stay", func(t *testing.T) {
		if ended.Name == "" {
			t.Skip("no ended run to leave objects for")
		}
		sweepingLeftovers(t, c, kube, ns, let, apiAddr, ended)
	})
}

// sweepingLeftovers: what a server that died mid-run would have left of
// a run that has ended (its pod with the Secret it owns, its workspace
// claim, labelled as the executor labels them) is removed by the
// leader's periodic sweep and counted in /metrics, while every object of
// a run that is running stays through several sweeps.
func sweepingLeftovers(t *testing.T, c *client.Client, kube kubernetes.Interface, ns string, let *fakeKubelet, apiAddr string, ended corev1.Pod) {
	ctx := t.Context()
	live, build := startRunningBuild(t, c, let)

	left := makeLeftovers(t, kube, ns, ended.Labels["berth.dev/pipeline-run"], ended.Name+"-left", ended.Spec.Volumes[0].PersistentVolumeClaim.ClaimName)
	waitUntil(t, "the ended run's pod, secret and claim are removed", func() bool { return left.gone(t, kube, ns) })
	time.Sleep(3 * time.Second) // three more sweeps
	liveClaim := build.Spec.Volumes[0].PersistentVolumeClaim.ClaimName
	for what, get := range map[string]func() (*metav1.ObjectMeta, error){
		"build pod": func() (*metav1.ObjectMeta, error) {
			p, err := kube.CoreV1().Pods(ns).Get(ctx, build.Name, metav1.GetOptions{})
			return &p.ObjectMeta, err
		},
		"build secret": func() (*metav1.ObjectMeta, error) {
			s, err := kube.CoreV1().Secrets(ns).Get(ctx, build.Name, metav1.GetOptions{})
			return &s.ObjectMeta, err
		},
		"workspace claim": func() (*metav1.ObjectMeta, error) {
			c, err := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, liveClaim, metav1.GetOptions{})
			return &c.ObjectMeta, err
		},
	} {
		if m, err := get(); err != nil || m.DeletionTimestamp != nil {
			t.Errorf("the live run's %s was swept: %v", what, err)
		}
	}
	if r, err := c.GetRun(ctx, live.ID); err != nil || r.State != api.RunRunning {
		t.Errorf("the live run: %+v %v; want running", r, err)
	}
	wantOneLeftoverCounted(t, apiAddr)
	if _, err := c.CancelRun(ctx, live.ID); err != nil {
		t.Fatal(err)
	}
	waitRunEnd(t, c, live.ID)
	waitGone(t, kube, ns, "the cancelled run's pods and workspace claim")
}

// leftovers are what a server that died mid-run left of a run: a step
// pod with the Secret it owns, and the run's workspace claim.
type leftovers struct{ pod, claim string }

// makeLeftovers makes them in ns as the kube executor makes them, with
// the executor's labels for the run whose label value is run.
func makeLeftovers(t *testing.T, kube kubernetes.Interface, ns, run, pod, claim string) leftovers {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{
		"app.kubernetes.io/managed-by": "berth",
		"berth.dev/pipeline-run":       run,
		"berth.dev/pipeline-step":      "left",
	}
	if _, err := kube.CoreV1().PersistentVolumeClaims(ns).Create(ctx, &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: claim, Labels: labels},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
		},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	no := false
	p, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod, Labels: labels},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "step", Image: "registry.berth.test/busybox:1", Command: []string{"/bin/sh", "-c", "make"}}},
			Volumes: []corev1.Volume{{Name: "workspace", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: pod, Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod, UID: p.UID, BlockOwnerDeletion: &yes}},
	}, StringData: map[string]string{"HOME": "/berth/workspace/home"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return leftovers{pod: pod, claim: claim}
}

// gone reports whether the pod, its Secret and the claim are all deleted.
func (l leftovers) gone(t *testing.T, kube kubernetes.Interface, ns string) bool {
	ctx := t.Context()
	_, perr := kube.CoreV1().Pods(ns).Get(ctx, l.pod, metav1.GetOptions{})
	_, serr := kube.CoreV1().Secrets(ns).Get(ctx, l.pod, metav1.GetOptions{})
	_, cerr := kube.CoreV1().PersistentVolumeClaims(ns).Get(ctx, l.claim, metav1.GetOptions{})
	return apierrors.IsNotFound(perr) && apierrors.IsNotFound(serr) && apierrors.IsNotFound(cerr)
}

// startRunningBuild starts a run of shop whose checkout succeeds and
// whose build step runs on (until cancelled), and returns the run and
// the build's pod once it runs.
func startRunningBuild(t *testing.T, c *client.Client, let *fakeKubelet) (api.Run, corev1.Pod) {
	t.Helper()
	let.set(func(p corev1.Pod) (int32, bool) {
		return 0, p.Labels["berth.dev/pipeline-checkout"] == "true"
	})
	run, err := c.StartRun(t.Context(), "shop", api.RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var build corev1.Pod
	waitUntil(t, "the build's pod runs", func() bool {
		for _, p := range let.seen() {
			if p.role == "build" {
				build = p.pod
				return true
			}
		}
		return false
	})
	return run, build
}

// wantOneLeftoverCounted checks that the server's /metrics counts one
// pod and one claim removed by sweeps (the pod's Secret may have gone
// with its pod, to the garbage collector, before a sweep listed it).
func wantOneLeftoverCounted(t *testing.T, apiAddr string) {
	t.Helper()
	metrics := scrape(t, "http://"+apiAddr+"/metrics")
	for _, want := range []string{
		`berth_pipeline_leftovers_removed_total{kind="pod"} 1`,
		`berth_pipeline_leftovers_removed_total{kind="persistentvolumeclaim"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "berth_pipeline"))
		}
	}
}

// scrape is the text of a metrics page.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(body)
}

// grepLines is the lines of text that contain part.
func grepLines(text, part string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, part) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// fakeKubelet ends the pipeline pods of one namespace as decide says,
// once kwok made them Running, and binds their workspace claims.
type fakeKubelet struct {
	mu sync.Mutex
	// decide gives a pod's exit code, or false to leave it running.
	decide  func(corev1.Pod) (int32, bool)
	handled map[string]bool
	pods    []seenPod
}

type seenPod struct {
	role   string // "checkout" or the step's name
	pod    corev1.Pod
	secret *corev1.Secret
}

func startFakeKubelet(t *testing.T, kube kubernetes.Interface, ns string) *fakeKubelet {
	t.Helper()
	f := &fakeKubelet{handled: map[string]bool{}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { stop(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			f.pass(ctx, t, kube, ns)
			select {
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	return f
}

func (f *fakeKubelet) pass(ctx context.Context, t *testing.T, kube kubernetes.Interface, ns string) {
	claims, err := kube.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return
	}
	for _, c := range claims.Items {
		if c.Status.Phase != corev1.ClaimPending || c.DeletionTimestamp != nil {
			continue
		}
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: "pv-" + c.Name + "-" + string(c.UID)[:8]},
			Spec: corev1.PersistentVolumeSpec{
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
				ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: c.Name, UID: c.UID},
				PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/berth-ws"}},
			},
		}
		if _, err := kube.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) && ctx.Err() == nil {
			t.Logf("volume for claim %s: %v", c.Name, err)
		}
	}
	pods, err := kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "berth.dev/pipeline-run"})
	if err != nil {
		return
	}
	for _, p := range pods.Items {
		f.mu.Lock()
		done := f.handled[p.Name]
		decide := f.decide
		f.mu.Unlock()
		if done || decide == nil || p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
			continue
		}
		sp := seenPod{role: p.Labels["berth.dev/pipeline-step"], pod: p}
		if p.Labels["berth.dev/pipeline-checkout"] == "true" {
			sp.role = "checkout"
		}
		// Every pod's Secret is made just after the pod, which kwok may
		// have running first: a kubelet would not start the container
		// without it either, so wait for it (the build step's agent reads it).
		if s, err := kube.CoreV1().Secrets(ns).Get(ctx, p.Name, metav1.GetOptions{}); err == nil {
			sp.secret = s
		} else {
			continue // not made yet: look again on the next pass
		}
		f.mu.Lock()
		f.handled[p.Name] = true
		f.pods = append(f.pods, sp)
		f.mu.Unlock()
		if code, ok := decide(p); ok {
			if err := kubetest.EndPod(ctx, kube, ns, p.Name, code); err != nil && ctx.Err() == nil {
				t.Logf("ending pod %s: %v", p.Name, err)
			}
		}
	}
}

func (f *fakeKubelet) seen() []seenPod {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seenPod(nil), f.pods...)
}

// set starts afresh with decide: the pods seen so far are forgotten.
func (f *fakeKubelet) set(decide func(corev1.Pod) (int32, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decide, f.pods = decide, nil
}

// waitGone waits until no pipeline pod or workspace claim is left in ns.
func waitGone(t *testing.T, kube kubernetes.Interface, ns, what string) {
	t.Helper()
	sel := metav1.ListOptions{LabelSelector: "berth.dev/pipeline-run"}
	waitUntil(t, what+" are deleted", func() bool {
		pods, err := kube.CoreV1().Pods(ns).List(t.Context(), sel)
		if err != nil || len(pods.Items) > 0 {
			return false
		}
		claims, err := kube.CoreV1().PersistentVolumeClaims(ns).List(t.Context(), sel)
		return err == nil && len(claims.Items) == 0
	})
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	kubetest.Eventually(t, what, 2*time.Minute, ok)
}

func startAndWait(t *testing.T, c *client.Client, app string) api.Run {
	t.Helper()
	run, err := c.StartRun(t.Context(), app, api.RunRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return waitRunEnd(t, c, run.ID)
}

func waitRunEnd(t *testing.T, c *client.Client, id string) api.Run {
	t.Helper()
	var run api.Run
	waitUntil(t, "run "+id+" ends", func() bool {
		r, err := c.GetRun(t.Context(), id)
		run = r
		return err == nil && (r.State == api.RunSucceeded || r.State == api.RunFailed || r.State == api.RunCancelled)
	})
	return run
}

func runLog(t *testing.T, c *client.Client, id string) string {
	t.Helper()
	logs, err := c.RunLogs(t.Context(), id, false)
	if err != nil {
		return err.Error()
	}
	defer logs.Close()
	text, _ := io.ReadAll(logs)
	return string(text)
}

// playStepAgent does what a step pod with artifacts does after its
// script: it runs the very agent command of the pod's spec ("berth
// step-agent upload", here in-process) with the token of the pod's
// Secret, on a checkout holding bin/app. It checks the pod first: the
// agent's init container runs the server's Berth image, and the token is
// nowhere in the spec.
func playStepAgent(ctx context.Context, kube kubernetes.Interface, ns string, p corev1.Pod) error {
	sec, err := kube.CoreV1().Secrets(ns).Get(ctx, p.Name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	tok := string(sec.Data[cli.StepTokenEnv])
	spec, _ := json.Marshal(p.Spec)
	cmd := p.Spec.Containers[0].Command
	switch {
	case tok == "" || strings.Contains(string(spec), tok):
		return fmt.Errorf("token %q missing from the Secret or present in the spec", tok)
	case len(p.Spec.InitContainers) != 1 || p.Spec.InitContainers[0].Image != "registry.berth.test/berth:1":
		return fmt.Errorf("init containers %+v", p.Spec.InitContainers)
	// script, cache URL (none), upload URL, 0 cache paths, patterns.
	case len(cmd) != 9 || cmd[5] != "" || cmd[7] != "0" || cmd[8] != "bin/":
		return fmt.Errorf("command %q", cmd)
	}
	dir := filepath.Join(os.TempDir(), "berth-agent-"+p.Name)
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "app"), []byte("built in a pod"), 0o755); err != nil {
		return err
	}
	var out bytes.Buffer
	code := cli.Execute(ctx, append([]string{"step-agent", "upload", "--url", cmd[6], "--dir", dir, "--"}, cmd[8:]...), cli.Options{
		Stdout: &out, Stderr: &out, Getenv: func(k string) string { return map[string]string{cli.StepTokenEnv: tok}[k] },
	})
	if code != 0 {
		return fmt.Errorf("exit %d: %s", code, out.String())
	}
	return nil
}

func stepNamed(run api.Run, name string) api.RunStep {
	for _, s := range run.Steps {
		if s.Name == name {
			return s
		}
	}
	return api.RunStep{}
}

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func secretVolume(p corev1.Pod) *corev1.SecretVolumeSource {
	for _, v := range p.Spec.Volumes {
		if v.Secret != nil {
			return v.Secret
		}
	}
	return nil
}

// servedRepo makes a repository served over smart HTTP on loopback (with
// token, every request needs it as the password), holding the files
// files(url) gives in one commit on main, and returns its URL and commit.
func servedRepo(t *testing.T, token string, files func(url string) map[string]string) (string, string) {
	t.Helper()
	root, work := t.TempDir(), t.TempDir()
	bare := filepath.Join(root, "shop.git")
	git := gittest.Git
	git(t, root, "init", "-q", "--bare", bare)
	git(t, bare, "config", "uploadpack.allowReachableSHA1InWant", "true")
	url := gittest.Serve(t, root, token) + "/shop.git"
	for name, content := range files(url) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(work, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(t, work, "init", "-q")
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "the app and its pipeline")
	git(t, work, "push", "-q", bare, "HEAD:refs/heads/main")
	return url, strings.TrimSpace(git(t, work, "rev-parse", "HEAD"))
}
