package kube

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// runObjects are the names of what the executor made for one run.
type runObjects struct {
	pods, secrets []string
	claim         string
}

// makeRunObjects makes what the executor makes for a run that got as far
// as its first step: the workspace claim (Prepare), the checkout pod and
// a step pod, each with the Secret it owns.
func makeRunObjects(t *testing.T, ex *Executor, runID string) runObjects {
	t.Helper()
	ctx := t.Context()
	ws, err := ex.Prepare(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	objs := runObjects{claim: claimName(runID)}
	checkout := podName(runID, "checkout")
	step := podName(runID, "build")
	for _, p := range []struct {
		pod  *corev1.Pod
		data map[string]string
	}{
		{ex.checkoutPod(runID, checkout, ws, testCommit, "refs/heads/main", "", map[string]string{keyURL: "https://git.example.com/a.git"}), map[string]string{keyURL: "https://git.example.com/a.git"}},
		{ex.pod(executor.StepSpec{RunID: runID, Name: "build", Script: "make", Workspace: ws}, step, "busybox:1.37"), map[string]string{"HOME": ws.Home}},
	} {
		created, err := ex.o.Client.CoreV1().Pods(ex.o.Namespace).Create(ctx, p.pod, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ex.o.Client.CoreV1().Secrets(ex.o.Namespace).Create(ctx, ownedSecret(created, p.data), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		objs.pods = append(objs.pods, created.Name)
		objs.secrets = append(objs.secrets, created.Name)
	}
	return objs
}

// exists reports which of the run's objects are still there (and not
// being deleted).
func (o runObjects) exists(t *testing.T, client kubernetes.Interface, ns string) []string {
	t.Helper()
	ctx := t.Context()
	var out []string
	alive := func(what string, m *metav1.ObjectMeta, err error) {
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			t.Fatal(err)
		case m.DeletionTimestamp == nil:
			out = append(out, what)
		}
	}
	for _, name := range o.pods {
		p, err := client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		alive("pod "+name, &p.ObjectMeta, err)
	}
	for _, name := range o.secrets {
		s, err := client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		alive("secret "+name, &s.ObjectMeta, err)
	}
	c, err := client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, o.claim, metav1.GetOptions{})
	alive("claim "+o.claim, &c.ObjectMeta, err)
	return out
}

// TestSweepOnCluster runs Sweep against a real control plane: the pods,
// Secrets and workspace claim of a run that is not live are removed and
// counted; a live run's, an object made after the listing, and a Secret
// of Berth's that is not a pipeline's stay. An account that may not list
// gets an error that names the missing right and deletes nothing.
func TestSweepOnCluster(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1})
	client := kc.Client(t)
	ctx := t.Context()
	const ns = "sweep"
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ex, err := New(Options{Client: client, Namespace: ns})
	if err != nil {
		t.Fatal(err)
	}
	dead := makeRunObjects(t, ex, "shop.7")
	live := makeRunObjects(t, ex, "shop.8")
	// What the Kubernetes runtime deploys carries managed-by too.
	deployed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-config", Labels: map[string]string{managedByLabel: managedByValue}}}
	if _, err := client.CoreV1().Secrets(ns).Create(ctx, deployed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// A run that makes its first object while the sweep lists: live is
	// asked after the listing, so the claim it makes then is not seen.
	var late runObjects
	removed, err := ex.Sweep(ctx, func(context.Context) ([]string, error) {
		late = runObjects{claim: claimName("shop.9")}
		if _, err := ex.Prepare(ctx, "shop.9"); err != nil {
			return nil, err
		}
		return []string{"shop.8"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if removed[KindPod] != 2 || removed[KindSecret] != 2 || removed[KindClaim] != 1 {
		t.Errorf("removed %v; want 2 pods, 2 secrets, 1 claim", removed)
	}
	waitFor(t, "the dead run's pods, secrets and claim are gone", func() bool {
		return len(dead.exists(t, client, ns)) == 0
	})
	if got := live.exists(t, client, ns); len(got) != 5 {
		t.Errorf("of the live run's objects only %v are left; want its 2 pods, 2 secrets and claim", got)
	}
	if got := late.exists(t, client, ns); len(got) != 1 {
		t.Errorf("the claim made during the sweep: %v", got)
	}
	if _, err := client.CoreV1().Secrets(ns).Get(ctx, deployed.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("the deployed app's secret: %v", err)
	}

	// A second pass finds nothing more to do.
	removed, err = ex.Sweep(ctx, func(context.Context) ([]string, error) { return []string{"shop.8", "shop.9"}, nil })
	if err != nil || len(removed) != 0 {
		t.Errorf("second sweep: removed %v, %v; want nothing", removed, err)
	}

	t.Run("an account that may not list", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Impersonate.UserName = "namespace-limited"
		limited, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		lex, err := New(Options{Client: limited, Namespace: ns})
		if err != nil {
			t.Fatal(err)
		}
		asked := false
		_, err = lex.Sweep(ctx, func(context.Context) ([]string, error) { asked = true; return nil, nil })
		if err == nil || !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "may not list secrets in namespace sweep") {
			t.Errorf("Sweep = %v; want a forbidden error naming the right", err)
		}
		if asked {
			t.Error("live was asked although nothing could be listed")
		}
		if got := live.exists(t, client, ns); !slices.Contains(got, "claim "+live.claim) || len(got) != 5 {
			t.Errorf("after the forbidden sweep the live run has %v", got)
		}
	})
}
