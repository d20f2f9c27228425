package runner

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/store"
)

// oneCluster hands the one kube executor out for every environment.
type oneCluster struct{ ex *kube.Executor }

func (o oneCluster) DefaultImage() string { return "" }
func (o oneCluster) ForEnvironment(context.Context, store.Environment) (ClusterExecutor, error) {
	return o.ex, nil
}

// clusterRunObjects are a run's workspace claim (made by the executor's
// Prepare) and a step pod with the Secret it owns, labelled as the
// executor labels them (copied from the claim).
type clusterRunObjects struct{ claim, pod string }

func makeClusterRun(t *testing.T, ex *kube.Executor, client kubernetes.Interface, ns, runID string) clusterRunObjects {
	t.Helper()
	ctx := t.Context()
	claims := func() map[string]corev1.PersistentVolumeClaim {
		l, err := client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]corev1.PersistentVolumeClaim{}
		for _, c := range l.Items {
			out[c.Name] = c
		}
		return out
	}
	before := claims()
	if _, err := ex.Prepare(ctx, runID); err != nil {
		t.Fatal(err)
	}
	var claim corev1.PersistentVolumeClaim
	for name, c := range claims() {
		if _, ok := before[name]; !ok {
			claim = c
		}
	}
	if claim.Name == "" {
		t.Fatalf("Prepare(%s) made no claim", runID)
	}
	no, yes := false, true
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "berth-step-", Labels: claim.Labels},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, AutomountServiceAccountToken: &no,
			Containers: []corev1.Container{{Name: "step", Image: "busybox:1.37", Command: []string{"/bin/sh", "-c", "sleep 300"}}},
			Volumes: []corev1.Volume{{Name: "workspace", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claim.Name},
			}}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Name: pod.Name, Labels: claim.Labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, BlockOwnerDeletion: &yes}},
	}, StringData: map[string]string{"HOME": "/berth/workspace/home"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return clusterRunObjects{claim: claim.Name, pod: pod.Name}
}

// left lists which of the objects are there and not being deleted.
func (o clusterRunObjects) left(t *testing.T, client kubernetes.Interface, ns string) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	check := func(what string, m metav1.ObjectMeta, err error) {
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			t.Fatal(err)
		case m.DeletionTimestamp == nil:
			out = append(out, what)
		}
	}
	c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, o.claim, metav1.GetOptions{})
	check("claim", c.ObjectMeta, err)
	p, err := client.CoreV1().Pods(ns).Get(ctx, o.pod, metav1.GetOptions{})
	check("pod", p.ObjectMeta, err)
	s, err := client.CoreV1().Secrets(ns).Get(ctx, o.pod, metav1.GetOptions{})
	check("secret", s.ObjectMeta, err)
	return out
}

// TestInterruptedClusterRunSweptOnStart, on a real control plane: a
// server died while a run's step ran as a pod, and nothing stored says
// which environment that run used (no pipeline state, as for a pull
// request, whose pipeline file is never stored), so recovery marks it
// failed but cannot clean up after it. The runner's first sweep, over
// every cluster environment, removes its pod, Secret and claim; the
// objects of a run this server drives stay through later sweeps.
func TestInterruptedClusterRunSweptOnStart(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1})
	client := kc.Client(t)
	const ns = "pr-runs"
	ex, err := kube.New(kube.Options{Client: client, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	e, _ := setup(t, "crashed", "on: [manual, pull_request]\nexecutor: {env: pr}\nsteps:\n  - name: a\n    image: alpine:3.22\n    run: sleep 300\n",
		envOpts{noStart: true, tweak: func(o *Options) { o.Clusters, o.SweepEvery = oneCluster{ex}, 200*time.Millisecond }})
	ctx := t.Context()
	if err := e.st.CreateCluster(ctx, store.Cluster{Name: "kwok", Server: kc.Server, CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateEnvironment(ctx, store.Environment{Name: "pr", Team: "team_a", Cluster: "kwok", Namespace: ns, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	crashed, live := e.manual("crashed", nil), e.manual("crashed", nil)
	for _, id := range []string{crashed.ID, live.ID} {
		if _, err := e.r.update(ctx, id, func(r *store.Run) error {
			r.State, r.StartedAt = store.RunRunning, time.Now()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	dead := makeClusterRun(t, ex, client, ns, crashed.ID)
	driven := makeClusterRun(t, ex, client, ns, live.ID)
	// live is the run this server drives (its driver would have made
	// those objects itself).
	e.r.mu.Lock()
	e.r.active[live.ID] = &activeRun{app: "crashed", team: "team_a", cancel: func(error) {}, decided: make(chan struct{}, 1)}
	e.r.mu.Unlock()
	defer func() {
		e.r.mu.Lock()
		delete(e.r.active, live.ID)
		e.r.mu.Unlock()
	}()

	e.start()
	if run := e.waitEnd(crashed.ID); run.State != store.RunFailed {
		t.Fatalf("the interrupted run: %s (%s)", run.State, run.Reason)
	}
	kubetest.Eventually(t, "the interrupted run's pod, secret and claim are removed", time.Minute, func() bool {
		return len(dead.left(t, client, ns)) == 0
	})
	time.Sleep(time.Second) // several more sweeps
	if got := driven.left(t, client, ns); len(got) != 3 {
		t.Errorf("of the driven run's objects only %v are left; want claim, pod and secret", got)
	}
	if run, err := e.st.GetRun(ctx, live.ID); err != nil || run.State != store.RunRunning {
		t.Errorf("the driven run: %+v %v; want running", run.State, err)
	}
	if n := e.r.Removed(kube.KindPod) + e.r.Removed(kube.KindClaim); n != 2 {
		t.Errorf("removed %d pods and claims; want 2", n)
	}
}
