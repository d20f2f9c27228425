package kube

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
)

const testCommit = "0123456789abcdef0123456789abcdef01234567"

// TestCheckoutRefusals: a source gitsrc would refuse makes no pod (a fake
// clientset is enough to see that; internal/server's kube test runs the
// checkout on a real control plane).
func TestCheckoutRefusals(t *testing.T) {
	t.Parallel()
	ws := executor.Workspace{Root: DefaultMountPath, Src: DefaultMountPath + "/src", Home: DefaultMountPath + "/home"}
	tests := []struct {
		desc string
		src  gitsrc.Source
	}{
		{"URL starting with -", gitsrc.Source{URL: "-uupload-pack=touch /tmp/x", Commit: testCommit}},
		{"ref starting with -", gitsrc.Source{URL: "https://git.example.com/a.git", Commit: testCommit, Ref: "--upload-pack=x"}},
		{"short commit", gitsrc.Source{URL: "https://git.example.com/a.git", Commit: "0123456"}},
		{"file URL", gitsrc.Source{URL: "file:///etc", Commit: testCommit}},
		{"ssh without a key", gitsrc.Source{URL: "ssh://git@git.example.com/a.git", Commit: testCommit}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			client := fake.NewClientset()
			ex, err := New(Options{Client: client, Namespace: "ci"})
			if err != nil {
				t.Fatal(err)
			}
			err = ex.Checkout(t.Context(), "shop.1", ws, tt.src, io.Discard)
			if !errors.Is(err, gitsrc.ErrBadSource) {
				t.Errorf("Checkout = %v; want ErrBadSource", err)
			}
			pods, _ := client.CoreV1().Pods("ci").List(t.Context(), metav1.ListOptions{})
			if len(pods.Items) > 0 {
				t.Errorf("a pod was made: %v", pods.Items[0].Name)
			}
		})
	}
}

// TestCheckoutPod: the pod names the commit and ref, mounts only the
// credential files its Secret holds, and carries no secret in its spec.
func TestCheckoutPod(t *testing.T) {
	t.Parallel()
	ex, err := New(Options{Client: fake.NewClientset(), Namespace: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	ws := executor.Workspace{Root: "/w", Src: "/w/src", Home: "/w/home"}
	data := map[string]string{keyURL: "https://git.example.com/a.git", keyToken: "tok-secret", keyUsername: "berth"}
	pod := ex.checkoutPod("shop.1", "berth-shop-1-checkout-x", ws, testCommit, "refs/heads/main", "", data)
	spec, _ := json.Marshal(pod)
	if strings.Contains(string(spec), "tok-secret") || strings.Contains(string(spec), "git.example.com") {
		t.Errorf("the pod spec holds the token or URL: %s", spec)
	}
	c := pod.Spec.Containers[0]
	if c.Image != DefaultCheckoutImage || c.Env[0].Value != testCommit || c.Env[1].Value != "refs/heads/main" {
		t.Errorf("container %+v", c)
	}
	// The image's ENTRYPOINT (git, in alpine/git) must not be what runs.
	if len(c.Command) != 3 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" || c.Command[2] != checkoutScript || len(c.Args) != 0 {
		t.Errorf("command %q args %q; want /bin/sh -c with the checkout script, no args", c.Command, c.Args)
	}
	var keys []string
	for _, it := range pod.Spec.Volumes[1].Secret.Items {
		keys = append(keys, it.Key)
	}
	if strings.Join(keys, ",") != "url,token,username" || pod.Spec.Volumes[1].Secret.SecretName != pod.Name {
		t.Errorf("secret volume %+v", pod.Spec.Volumes[1].Secret)
	}
	if *pod.Spec.AutomountServiceAccountToken {
		t.Error("the checkout pod gets a service account token")
	}
}
