package kube

import (
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// podTemplateHashes is the pod-template-hash of every pod of the workload.
func podTemplateHashes(t *testing.T, rt *Runtime, id string) []string {
	t.Helper()
	pods, err := rt.client.CoreV1().Pods(rt.Namespace()).List(ctxFor(t, 10*time.Second),
		metav1.ListOptions{LabelSelector: LabelWorkload + "=" + id})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out = append(out, p.Labels["pod-template-hash"])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// A changed env rolls the pods (the env lives in a Secret the pods read
// only at start); applying the old workload again rolls back to the old
// ReplicaSet, which Kubernetes kept.
func TestRollingUpdateAndRollback(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 3)
	mustApply(t, rt, w)
	first := waitReady(t, rt, w.ID, 3)
	firstHash := podTemplateHashes(t, rt, w.ID)
	if len(firstHash) != 1 {
		t.Fatalf("pod template hashes %v, want one", firstHash)
	}

	updated := w
	updated.Env = map[string]string{"BERTH_RELEASE": "1", "DATABASE_URL": "postgres://db/shop"}
	mustApply(t, rt, updated)
	eventually(t, "every pod replaced by the rolling update", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		if ws.Ready != 3 || len(ws.Instances) != 3 {
			return describe(ws)
		}
		for _, in := range ws.Instances {
			if first := names(first); first[in.ID] {
				return "old instance " + in.ID + " still there: " + describe(ws)
			}
		}
		if !maps.Equal(ws.Env, updated.Env) {
			return "status env " + strings.Join(slices.Sorted(maps.Keys(ws.Env)), ",")
		}
		return ""
	})
	if h := podTemplateHashes(t, rt, w.ID); len(h) != 1 || h[0] == firstHash[0] {
		t.Fatalf("after the update pods have template hashes %v, want one new hash (was %v)", h, firstHash)
	}
	// The old ReplicaSet is kept (scaled to 0) for rollback.
	if rs := kubectl(t, c, rt, "get", "replicasets", "-l", LabelWorkload+"="+w.ID, "-o", "name"); strings.Count(rs, "\n")+1 != 2 {
		t.Errorf("replica sets after one update: %q, want 2", rs)
	}

	mustApply(t, rt, w) // roll back
	eventually(t, "the rollback to the first pod template", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		h := podTemplateHashes(t, rt, w.ID)
		if ws.Ready != 3 || len(ws.Instances) != 3 || len(h) != 1 || h[0] != firstHash[0] {
			return strings.Join(h, ",") + " " + describe(ws)
		}
		return ""
	})
}

// A canary release runs as its own Deployment and Service beside the
// stable one; each Service selects only its own release's pods. Promotion
// scales the canary up and deletes the stable release.
func TestCanaryBesideStable(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	stable, canary := webWorkload(1, 2), webWorkload(2, 1)
	mustApply(t, rt, stable)
	mustApply(t, rt, canary)
	s := waitReady(t, rt, stable.ID, 2)
	k := waitReady(t, rt, canary.ID, 1)
	for id := range names(k) {
		if names(s)[id] {
			t.Fatalf("instance %s belongs to both releases", id)
		}
	}
	list, err := rt.List(ctxFor(t, 10*time.Second), "shop")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ws := range list {
		ids = append(ids, ws.ID)
	}
	if !slices.Equal(ids, []string{"shop-web-r1", "shop-web-r2"}) {
		t.Fatalf("List(shop) = %v, want both releases", ids)
	}
	// The endpoint slices of each release's Service hold its pods only.
	for _, ws := range []runtime.WorkloadStatus{s, k} {
		eventually(t, "endpoints of "+ws.ID, func() string {
			out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "endpointslices",
				"-l", "kubernetes.io/service-name="+ws.ID, "-o", "jsonpath={.items[*].endpoints[*].targetRef.name}")
			if err != nil {
				return err.Error()
			}
			got := strings.Fields(string(out))
			slices.Sort(got)
			want := slices.Sorted(maps.Keys(names(ws)))
			if !slices.Equal(got, want) {
				return "endpoints " + strings.Join(got, ",") + ", want " + strings.Join(want, ",")
			}
			return ""
		})
	}

	canary.Replicas = 2
	mustApply(t, rt, canary)
	waitReady(t, rt, canary.ID, 2)
	if err := rt.Delete(ctxFor(t, waitTimeout), stable.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Status(ctxFor(t, 5*time.Second), stable.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("stable after promotion: %v, want ErrNotFound", err)
	}
	waitReady(t, rt, canary.ID, 2)
}

// Apply prunes what left the spec; Delete removes every object of the
// workload and nothing that is not Berth's, and keeps volume claims.
func TestPruneAndDelete(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 2)
	w.Spec.Env = map[string]string{"GREETING": "hello"}
	w.Spec.Volumes = []spec.Volume{{Name: "data", Path: "/data", Size: "2Gi"}}
	mustApply(t, rt, w)
	sel := LabelWorkload + "=" + w.ID
	kinds := "deployments,services,configmaps,secrets,poddisruptionbudgets"
	want := "configmap/shop-web-r1-env deployment.apps/shop-web-r1 poddisruptionbudget.policy/shop-web-r1 secret/shop-web-r1-berth-env service/shop-web-r1"
	got := sortedNames(kubectl(t, c, rt, "get", kinds, "-l", sel, "-o", "name"))
	if got != want {
		t.Fatalf("objects of %s:\n got %s\nwant %s", w.ID, got, want)
	}
	if pvc := kubectl(t, c, rt, "get", "pvc", "-o", "name"); pvc != "persistentvolumeclaim/shop-web-data" {
		t.Fatalf("claims: %q", pvc)
	}
	// Someone else's ConfigMap with a confusable name, and one that
	// carries the workload's label but not Berth's managed-by label.
	kubectl(t, c, rt, "create", "configmap", "shop-web-r1-notes", "--from-literal=a=b")
	kubectl(t, c, rt, "create", "configmap", "lookalike", "--from-literal=a=b")
	kubectl(t, c, rt, "label", "configmap", "lookalike", sel)

	w.Replicas, w.Env, w.Spec.Env = 1, nil, nil
	mustApply(t, rt, w)
	eventually(t, "the pruned objects to go", func() string {
		out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", kinds, "-l", sel, "-o", "name")
		if err != nil {
			return err.Error()
		}
		got := sortedNames(string(out))
		if got != "configmap/lookalike deployment.apps/shop-web-r1 service/shop-web-r1" {
			return got
		}
		return ""
	})

	if err := rt.Delete(ctxFor(t, waitTimeout), w.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every object of the workload to go", func() string {
		out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", kinds+",replicasets,pods", "-l", sel, "-o", "name")
		if err != nil {
			return err.Error()
		}
		if got := sortedNames(string(out)); got != "configmap/lookalike" {
			return got
		}
		return ""
	})
	if got := kubectl(t, c, rt, "get", "configmap", "shop-web-r1-notes", "-o", "name"); got != "configmap/shop-web-r1-notes" {
		t.Errorf("someone else's configmap: %q", got)
	}
	if pvc := kubectl(t, c, rt, "get", "pvc", "-o", "name"); pvc != "persistentvolumeclaim/shop-web-data" {
		t.Errorf("the volume claim should outlive the workload: %q", pvc)
	}
}

func sortedNames(out string) string {
	f := strings.Fields(out)
	slices.Sort(f)
	return strings.Join(f, " ")
}

// Objects deleted or edited behind Berth's back come back on the next
// pass, without anyone calling Apply.
func TestDriftRepair(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 2)
	w.Spec.Env = map[string]string{"GREETING": "hello"}
	mustApply(t, rt, w)
	waitReady(t, rt, w.ID, 2)
	uid := kubectl(t, c, rt, "get", "deployment", w.ID, "-o", "jsonpath={.metadata.uid}")

	t.Run("deleted deployment", func(t *testing.T) {
		kubectl(t, c, rt, "delete", "deployment", w.ID, "--wait=false")
		eventually(t, "a new deployment", func() string {
			out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "deployment", w.ID, "-o", "jsonpath={.metadata.uid}")
			if err != nil || string(out) == uid {
				return "not recreated yet"
			}
			return ""
		})
		waitReady(t, rt, w.ID, 2)
	})
	t.Run("scaled by hand", func(t *testing.T) {
		kubectl(t, c, rt, "scale", "deployment", w.ID, "--replicas=5")
		eventually(t, "replicas back to 2", func() string {
			got := kubectl(t, c, rt, "get", "deployment", w.ID, "-o", "jsonpath={.spec.replicas}")
			if got != "2" {
				return "replicas " + got
			}
			return ""
		})
		waitReady(t, rt, w.ID, 2)
	})
	t.Run("image edited", func(t *testing.T) {
		kubectl(t, c, rt, "set", "image", "deployment/"+w.ID, "app=registry.berth.test/other:9")
		eventually(t, "the image back", func() string {
			if got := kubectl(t, c, rt, "get", "deployment", w.ID, "-o", "jsonpath={.spec.template.spec.containers[0].image}"); got != testImage {
				return got
			}
			return ""
		})
	})
	t.Run("configmap edited and service deleted", func(t *testing.T) {
		kubectl(t, c, rt, "patch", "configmap", w.ID+"-env", "--type=merge", "-p", `{"data":{"GREETING":"hacked"}}`)
		kubectl(t, c, rt, "delete", "service", w.ID)
		eventually(t, "the configmap and service back", func() string {
			out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "configmap", w.ID+"-env", "-o", "jsonpath={.data.GREETING}")
			if err != nil || string(out) != "hello" {
				return "greeting " + string(out)
			}
			if _, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "service", w.ID); err != nil {
				return "service: " + err.Error()
			}
			return ""
		})
	})
	t.Run("deleted workload stays deleted", func(t *testing.T) {
		if err := rt.Delete(ctxFor(t, waitTimeout), w.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Second) // repair passes would have run by now
		if out := kubectl(t, c, rt, "get", "deployments,services,configmaps", "-l", LabelWorkload+"="+w.ID, "-o", "name"); out != "" {
			t.Fatalf("objects came back after Delete: %s", out)
		}
	})
}

// A pod the scheduler cannot place says so, with the scheduler's reason.
func TestUnschedulableReportsSchedulerReason(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 1)
	w.Spec.Resources = spec.Resources{CPU: "500", Memory: "1Gi"}
	mustApply(t, rt, w)
	eventually(t, "the scheduler's reason", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		if len(ws.Instances) != 1 {
			return describe(ws)
		}
		in := ws.Instances[0]
		if in.Ready || in.State != runtime.StateStarting || !strings.Contains(in.Message, "Unschedulable") || !strings.Contains(in.Message, "Insufficient cpu") {
			return describe(ws)
		}
		return ""
	})
}

// A quota that refuses the pods shows in the workload's message: there is
// no pod to carry it.
func TestQuotaExceededReported(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 1)
	mustApply(t, rt, w) // creates the namespace
	waitReady(t, rt, w.ID, 1)
	kubectl(t, c, rt, "create", "quota", "tiny", "--hard=pods=1")
	w.Replicas = 3
	mustApply(t, rt, w)
	eventually(t, "the quota in the workload's message", func() string {
		ws, err := rt.Status(context.Background(), w.ID)
		if err != nil {
			return err.Error()
		}
		if !strings.Contains(ws.Message, "exceeded quota") || ws.Ready != 1 {
			return describe(ws)
		}
		return ""
	})
}

// A service without an image cannot run on a cluster; Apply says which
// and writes nothing.
func TestNoImageRefused(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 1)
	w.Spec.Image = ""
	w.Spec.Command = []string{"./web"}
	err := rt.Apply(ctxFor(t, 10*time.Second), w)
	if !errors.Is(err, ErrNoImage) || !strings.Contains(err.Error(), `service "web"`) || !strings.Contains(err.Error(), "services.web.image") {
		t.Fatalf("Apply without image: %v, want ErrNoImage naming the service and the field", err)
	}
	if _, err := rt.Status(ctxFor(t, 5*time.Second), w.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("Status after a refused Apply: %v, want ErrNotFound", err)
	}
	if _, err := rt.client.CoreV1().Namespaces().Get(ctxFor(t, 5*time.Second), rt.Namespace(), metav1.GetOptions{}); err == nil {
		t.Fatal("a refused Apply created the namespace")
	}
}

// Two clusters at once: each runtime sees only its own cluster's work.
func TestTwoClusters(t *testing.T) {
	t.Parallel()
	a := sharedCluster(t)
	b := kubetest.Start(t, kubetest.Options{Nodes: 1, Name: "second"})
	ra, rb := newRuntime(t, a), newRuntime(t, b)
	wa, wb := webWorkload(1, 2), webWorkload(2, 1)
	mustApply(t, ra, wa)
	mustApply(t, rb, wb)
	sa := waitReady(t, ra, wa.ID, 2)
	sb := waitReady(t, rb, wb.ID, 1)
	if _, err := ra.Status(ctxFor(t, 5*time.Second), wb.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("cluster A has B's workload: %v", err)
	}
	if _, err := rb.Status(ctxFor(t, 5*time.Second), wa.ID); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("cluster B has A's workload: %v", err)
	}
	for _, in := range sb.Instances {
		if in.Node == "" {
			t.Errorf("instance %s on node %q", in.ID, in.Node)
		}
	}
	if len(sa.Instances) != 2 {
		t.Errorf("cluster A: %s", describe(sa))
	}
}

// Pods on kwok nodes have no process, so no output of their own (the
// shared cluster serves a file as every pod's log, see
// TestLogsWithContent): whatever the pod log API answers for them, an
// error names the instance, and there is neither an empty log nor a hang.
func TestLogsOfSimulatedPods(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 1)
	mustApply(t, rt, w)
	ws := waitReady(t, rt, w.ID, 1)
	if _, err := rt.Logs(ctxFor(t, 5*time.Second), w.ID, runtime.LogOptions{Instance: "nope"}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("logs of an unknown instance: %v, want ErrNotFound", err)
	}
	rc, err := rt.Logs(ctxFor(t, 15*time.Second), w.ID, runtime.LogOptions{Tail: 5})
	if err == nil {
		rc.Close()
		t.Logf("kwok answered the pod log API for %s", ws.Instances[0].ID)
		return
	}
	if !strings.Contains(err.Error(), ws.Instances[0].ID) {
		t.Errorf("log error %q does not name the instance %s", err, ws.Instances[0].ID)
	}
	t.Logf("logs of a simulated pod: %v", err)
}

// The config from a kubeconfig carries a request timeout (so adding an
// unreachable cluster fails fast); the runtime's own client must not, or
// informers' watches and followed logs would be cut every 15 seconds.
func TestRuntimeClientHasNoRequestTimeout(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	if cfg := restConfig(t, c); cfg.Timeout == 0 {
		t.Fatal("the kubeconfig's config has no timeout; this test checks nothing")
	}
	rt := newRuntime(t, c)
	rc, ok := rt.client.CoreV1().RESTClient().(*rest.RESTClient)
	if !ok || rc.Client == nil {
		t.Fatalf("REST client %T", rt.client.CoreV1().RESTClient())
	}
	if rc.Client.Timeout != 0 {
		t.Errorf("the runtime's HTTP client times out after %s", rc.Client.Timeout)
	}
}

// What a pod logged comes back through the pod log API (kwok serves the
// shared cluster's log file as every container's log), prefixed with the
// instance, and a followed log delivers a line appended later.
func TestLogsWithContent(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 1)
	mustApply(t, rt, w)
	pod := waitReady(t, rt, w.ID, 1).Instances[0].ID
	appendPodLog(t, "known line one", "known line two")

	rc, err := rt.Logs(ctxFor(t, 15*time.Second), w.ID, runtime.LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[" + pod + "] known line one\n", "[" + pod + "] known line two\n"} {
		if !strings.Contains(string(all), want) {
			t.Errorf("logs %q lack %q", all, want)
		}
	}
	rc, err = rt.Logs(ctxFor(t, 15*time.Second), w.ID, runtime.LogOptions{Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	last, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(last) != "["+pod+"] known line two\n" {
		t.Errorf("Tail 1 gave %q %v", last, err)
	}

	rc, err = rt.Logs(ctxFor(t, waitTimeout), w.ID, runtime.LogOptions{Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	err = kubetest.FollowUntil(rc, "["+pod+"] appended while following", func() error {
		return kubetest.AppendLog(shared.logs, "appended while following")
	}, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
}

func appendPodLog(t *testing.T, lines ...string) {
	t.Helper()
	if err := kubetest.AppendLog(shared.logs, lines...); err != nil {
		t.Fatal(err)
	}
}
