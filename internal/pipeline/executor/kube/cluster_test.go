package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// TestStepPodsOnCluster runs steps through the executor against a real
// control plane (etcd, kube-apiserver, controller-manager, scheduler) with
// a kwok node. kwok runs no containers: it marks a scheduled pod Running,
// and this test then plays the kubelet's last part, writing the step
// container's terminated state (exit code) into the pod's status.
//
// What it proves: the workspace claim binds and step pods mount it, are
// scheduled, and get their variables and secrets only through a Secret
// owned by the pod (nothing secret in the pod spec, no service account
// token); the exit code comes from the container status; a step past its
// timeout and a cancelled step have their pod deleted; the garbage
// collector removes a step's Secret with its pod; Cleanup removes the
// claim. What it cannot: that a script really runs in the image, that the
// workspace's files reach a later step, or real log lines (kwok serves no
// container logs, so the test checks the executor says so in the output
// instead of passing silently).
func TestStepPodsOnCluster(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1})
	client := kc.Client(t)
	ctx := t.Context()
	const ns, runID = "pipelines", "shop.7"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// No provisioner runs here: a volume made for the run's claim stands
	// in for one; the controller-manager binds them.
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "ws-shop-7"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			ClaimRef:                      &corev1.ObjectReference{Namespace: ns, Name: claimName(runID)},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/berth-ws"}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ex, err := New(Options{Client: client, Namespace: ns, DefaultImage: "busybox:1.37", KillGrace: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ws, err := ex.Prepare(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if ws.Src != DefaultMountPath+"/src" {
		t.Errorf("workspace %+v", ws)
	}
	waitFor(t, "the workspace claim is bound", func() bool {
		c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(runID), metav1.GetOptions{})
		return err == nil && c.Status.Phase == corev1.ClaimBound
	})

	const token = "tok-Hq72-not-in-the-pod-spec"
	step := func(name string, timeout time.Duration) executor.StepSpec {
		return executor.StepSpec{
			RunID: runID, Name: name, Script: "make test", Workspace: ws, Timeout: timeout,
			Env: map[string]string{"LEVEL": "2"}, Secrets: map[string]string{"DEPLOY_TOKEN": token},
		}
	}
	// start runs s in the background and returns its pod once kwok has
	// made it Running, and a channel with the step's result.
	type outcome struct {
		res executor.Result
		err error
		out string
	}
	start := func(t *testing.T, runCtx context.Context, s executor.StepSpec) (*corev1.Pod, chan outcome) {
		t.Helper()
		done := make(chan outcome, 1)
		go func() {
			// Read only once Run returned: it waits for its log reader.
			var out bytes.Buffer
			res, err := ex.Run(runCtx, s, &out)
			done <- outcome{res, err, out.String()}
		}()
		var pod *corev1.Pod
		waitFor(t, "step "+s.Name+"'s pod runs", func() bool {
			pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: stepLabel + "=" + s.Name})
			if err != nil || len(pods.Items) != 1 {
				return false
			}
			pod = &pods.Items[0]
			return pod.Spec.NodeName != "" && pod.Status.Phase == corev1.PodRunning
		})
		return pod, done
	}
	// terminate writes what the kubelet would once the container exited.
	terminate := func(t *testing.T, pod *corev1.Pod, code int32) {
		t.Helper()
		if err := kubetest.EndPod(ctx, client, ns, pod.Name, code); err != nil {
			t.Fatal(err)
		}
	}
	gone := func(t *testing.T, what string, get func() error) {
		t.Helper()
		waitFor(t, what+" is deleted", func() bool { return apierrors.IsNotFound(get()) })
	}

	t.Run("exit codes", func(t *testing.T) {
		for _, tt := range []struct {
			desc string
			code int32
		}{{"success", 0}, {"failure", 3}} {
			t.Run(tt.desc, func(t *testing.T) {
				pod, done := start(t, ctx, step("exit-"+tt.desc, time.Hour))
				// The pod as the cluster holds it: the workspace claim, no
				// service account token, variables only from its Secret.
				spec, _ := json.Marshal(pod)
				c := pod.Spec.Containers[0]
				switch {
				case strings.Contains(string(spec), token) || strings.Contains(string(spec), "LEVEL"):
					t.Errorf("the pod spec holds the step's variables: %s", spec)
				case pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken:
					t.Error("the step pod gets a service account token")
				case pod.Spec.Volumes[0].PersistentVolumeClaim == nil || pod.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != claimName(runID):
					t.Errorf("volumes %+v", pod.Spec.Volumes)
				case c.Image != "busybox:1.37" || c.WorkingDir != ws.Src || strings.Join(c.Command, " ") != "/bin/sh -c make test":
					t.Errorf("container %+v", c)
				case c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != pod.Name:
					t.Errorf("envFrom %+v", c.EnvFrom)
				}
				sec, err := client.CoreV1().Secrets(ns).Get(ctx, pod.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if string(sec.Data["DEPLOY_TOKEN"]) != token || string(sec.Data["LEVEL"]) != "2" || string(sec.Data["HOME"]) != ws.Home ||
					len(sec.OwnerReferences) != 1 || sec.OwnerReferences[0].UID != pod.UID {
					t.Errorf("secret data %v owners %+v", sec.Data, sec.OwnerReferences)
				}
				terminate(t, pod, tt.code)
				o := <-done
				if o.err != nil || o.res.ExitCode != int(tt.code) || o.res.TimedOut || o.res.Cancelled {
					t.Errorf("Run = %+v, %v; want exit code %d", o.res, o.err, tt.code)
				}
				t.Logf("step output: %q", o.out)
				// kwok either refuses the log ("no logs found": the executor
				// must say the log was not read) or, once the container has
				// ended, answers an empty one: nothing else may appear.
				if o.out != "" && !strings.Contains(o.out, "[berth] the pod's log could not be read") {
					t.Errorf("output %q: want the note that kwok serves no log, or nothing", o.out)
				}
				gone(t, "the pod", func() error {
					_, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
					return err
				})
				gone(t, "the step's secret (garbage collected with its pod)", func() error {
					_, err := client.CoreV1().Secrets(ns).Get(ctx, pod.Name, metav1.GetOptions{})
					return err
				})
			})
		}
	})

	t.Run("timeout", func(t *testing.T) {
		pod, done := start(t, ctx, step("slow", 3*time.Second))
		o := <-done
		if o.err != nil || !o.res.TimedOut || o.res.ExitCode == 0 || !strings.Contains(o.out, "timed out after 3s") {
			t.Errorf("Run = %+v, %v, %q; want timed out", o.res, o.err, o.out)
		}
		gone(t, "the timed-out step's pod", func() error {
			_, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			return err
		})
	})

	t.Run("cancel", func(t *testing.T) {
		runCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		pod, done := start(t, runCtx, step("cancelled", time.Hour))
		cancel()
		o := <-done
		if o.err != nil || !o.res.Cancelled || !strings.Contains(o.out, "step cancelled") {
			t.Errorf("Run = %+v, %v, %q; want cancelled", o.res, o.err, o.out)
		}
		gone(t, "the cancelled step's pod", func() error {
			_, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			return err
		})
	})

	// A step with artifacts: the pod gets the agent's init container (the
	// Berth image) and volume, the script is wrapped to run the agent
	// after it, and the upload token is in the Secret, not the spec.
	t.Run("artifacts", func(t *testing.T) {
		const upTok = "bst_Zk41-upload-token-only-in-the-secret"
		withAgent, err := New(Options{Client: client, Namespace: ns, DefaultImage: "busybox:1.37", KillGrace: time.Second, AgentImage: "ghcr.io/berthdev/berth:v9.9.9"})
		if err != nil {
			t.Fatal(err)
		}
		s := step("art", time.Hour)
		s.Artifacts = []string{"bin/", "dist/*.tgz"}
		s.Upload = &executor.Upload{URL: "http://berth.example:7700/api/v1/runs/shop.7/artifacts/art", Token: upTok}
		if _, err := ex.Run(ctx, s, io.Discard); err == nil || !strings.Contains(err.Error(), "agent image") {
			t.Errorf("Run with artifacts and no agent image: %v", err)
		}
		done, pod := startStep(t, withAgent, client, ns, s)
		spec, _ := json.Marshal(pod)
		if strings.Contains(string(spec), upTok) || strings.Contains(string(spec), token) {
			t.Errorf("the pod spec holds a token: %s", spec)
		}
		if len(pod.Spec.InitContainers) != 1 {
			t.Fatalf("init containers %+v", pod.Spec.InitContainers)
		}
		ic, c := pod.Spec.InitContainers[0], pod.Spec.Containers[0]
		if ic.Image != "ghcr.io/berthdev/berth:v9.9.9" || strings.Join(ic.Args, " ") != "step-agent install "+agentBinary ||
			len(ic.VolumeMounts) != 1 || ic.VolumeMounts[0].MountPath != agentDir {
			t.Errorf("init container %+v", ic)
		}
		var vols []string
		for _, v := range pod.Spec.Volumes {
			switch {
			case v.Name == agentVolume && v.EmptyDir != nil:
				vols = append(vols, "agent:emptyDir")
			case v.PersistentVolumeClaim != nil:
				vols = append(vols, "workspace:"+v.PersistentVolumeClaim.ClaimName)
			}
		}
		if strings.Join(vols, ",") != "workspace:"+claimName(runID)+",agent:emptyDir" {
			t.Errorf("volumes %v", vols)
		}
		want := []string{"/bin/sh", "-c", agentWrapper(agentBinary), "berth-step", "make test", "", s.Upload.URL, "0", "bin/", "dist/*.tgz"}
		if strings.Join(c.Command, "\x00") != strings.Join(want, "\x00") || len(c.VolumeMounts) != 2 {
			t.Errorf("step container command %q mounts %+v", c.Command, c.VolumeMounts)
		}
		sec, err := client.CoreV1().Secrets(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(sec.Data[agentTokenEnv]) != upTok {
			t.Errorf("the Secret lacks the upload token: %v", sec.Data)
		}
		waitFor(t, "the artifact step's pod runs", func() bool {
			p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
		terminate(t, pod, 0)
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	// A step with a cache: the agent restores before the script and saves
	// after it; the key the server expanded and the token are in the
	// Secret only, and the command carries the cache URL and paths.
	t.Run("cache", func(t *testing.T) {
		const upTok, key = "bst_c4che-token-only-in-the-secret", "deps-5eb63bbbe01eeed0"
		withAgent, err := New(Options{Client: client, Namespace: ns, DefaultImage: "busybox:1.37", KillGrace: time.Second, AgentImage: "ghcr.io/berthdev/berth:v9.9.9"})
		if err != nil {
			t.Fatal(err)
		}
		s := step("cached", time.Hour)
		s.Cache = &executor.CacheSpec{Key: key, Paths: []string{"vendor", "~/.cache/go-build"}, URL: "http://berth.example:7700/api/v1/runs/shop.7/cache/cached"}
		if _, err := withAgent.Run(ctx, s, io.Discard); err == nil || !strings.Contains(err.Error(), "has a cache") {
			t.Errorf("Run with a cache and no token: %v", err)
		}
		s.Upload = &executor.Upload{URL: "http://berth.example:7700/api/v1/runs/shop.7/artifacts/cached", Token: upTok}
		if _, err := ex.Run(ctx, s, io.Discard); err == nil || !strings.Contains(err.Error(), "agent image") {
			t.Errorf("Run with a cache and no agent image: %v", err)
		}
		done, pod := startStep(t, withAgent, client, ns, s)
		spec, _ := json.Marshal(pod)
		if strings.Contains(string(spec), upTok) || strings.Contains(string(spec), key) {
			t.Errorf("the pod spec holds the token or the key: %s", spec)
		}
		if len(pod.Spec.InitContainers) != 1 || pod.Spec.InitContainers[0].Image != "ghcr.io/berthdev/berth:v9.9.9" {
			t.Errorf("init containers %+v", pod.Spec.InitContainers)
		}
		want := []string{"/bin/sh", "-c", agentWrapper(agentBinary), "berth-step", "make test", s.Cache.URL, "", "2", "vendor", "~/.cache/go-build"}
		if c := pod.Spec.Containers[0]; strings.Join(c.Command, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("step container command %q, want %q", c.Command, want)
		}
		sec, err := client.CoreV1().Secrets(ns).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(sec.Data[agentTokenEnv]) != upTok || string(sec.Data[agentKeyEnv]) != key {
			t.Errorf("the Secret lacks the token or the key: %v", sec.Data)
		}
		waitFor(t, "the cached step's pod runs", func() bool {
			p, err := client.CoreV1().Pods(ns).Get(ctx, pod.Name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning
		})
		terminate(t, pod, 0)
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	t.Run("no image", func(t *testing.T) {
		bare, err := New(Options{Client: client, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bare.Run(ctx, step("imageless", time.Minute), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "names no image") {
			t.Errorf("Run without an image: %v", err)
		}
	})

	if err := ex.Cleanup(ctx, runID); err != nil {
		t.Fatal(err)
	}
	gone(t, "the workspace claim", func() error {
		_, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, claimName(runID), metav1.GetOptions{})
		return err
	})
}

// startStep runs s on ex in the background (its error, or its non-zero
// exit code, comes on the channel once it ended) and waits until its pod
// is scheduled.
func startStep(t *testing.T, ex *Executor, client kubernetes.Interface, ns string, s executor.StepSpec) (<-chan error, *corev1.Pod) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		res, err := ex.Run(t.Context(), s, io.Discard)
		if err == nil && res.ExitCode != 0 {
			err = fmt.Errorf("exit code %d", res.ExitCode)
		}
		done <- err
	}()
	var pod *corev1.Pod
	waitFor(t, "step "+s.Name+"'s pod is scheduled", func() bool {
		pods, err := client.CoreV1().Pods(ns).List(t.Context(), metav1.ListOptions{LabelSelector: stepLabel + "=" + s.Name})
		if err != nil || len(pods.Items) != 1 {
			return false
		}
		pod = &pods.Items[0]
		return pod.Spec.NodeName != ""
	})
	return done, pod
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	kubetest.Eventually(t, what, 60*time.Second, ok)
}
