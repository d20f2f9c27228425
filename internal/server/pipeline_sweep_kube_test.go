package server

import (
	"context"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/pkg/api"
)

// TestClusterLeftoversSweptOnStart: a server that died while a run's
// steps ran on a cluster leaves its pod (with the Secret it owns) and
// workspace claim there, in an environment no stored pipeline names — a
// pull request's pipeline file is never stored, so recovery cannot tell
// where that run ran. The next server sweeps every cluster environment
// when it starts leading, and removes them: the run is not live there
// (here it is not even in the database). The periodic sweep (10 minutes)
// cannot have done it within the test.
func TestClusterLeftoversSweptOnStart(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{Nodes: 1})
	kube := kc.Client(t)
	ctx := t.Context()
	const ns = "pr-runs"
	apiAddr := freeAddr(t)
	cfg := Config{
		DataDir: t.TempDir(), Listen: apiAddr, GatewayListen: freeAddr(t),
		AdvertiseURL: "http://" + apiAddr, ClusterGatewayImage: "registry.berth.test/berth:1",
	}
	first := runInProcess(t, cfg, "")
	admin, err := os.ReadFile(kc.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.c.AddCluster(ctx, api.ClusterRequest{Name: "kwok", Kubeconfig: string(admin)}); err != nil {
		t.Fatal(err)
	}
	if _, err := first.c.CreateEnvironment(ctx, api.EnvironmentRequest{Name: "pr", Cluster: "kwok", Namespace: ns}); err != nil {
		t.Fatal(err)
	}
	first.stop()

	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	left := makeLeftovers(t, kube, ns, "shop-3-0badc0de", "berth-shop-3-test-0badc0de-1234abcd", "berth-ws-shop-3-0badc0de")
	// Not a pipeline's: the same managed-by label, no run label.
	deployed := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "shop-config", Labels: map[string]string{"app.kubernetes.io/managed-by": "berth"}}}
	if _, err := kube.CoreV1().Secrets(ns).Create(ctx, deployed, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	second := runInProcess(t, cfg, "")
	defer second.stop()
	waitUntil(t, "the dead run's pod, secret and claim are removed", func() bool { return left.gone(t, kube, ns) })
	if _, err := kube.CoreV1().Secrets(ns).Get(context.Background(), deployed.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("a secret that is not a pipeline's: %v", err)
	}
	wantOneLeftoverCounted(t, apiAddr)
}
