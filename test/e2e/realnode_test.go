package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/kubetest"
	"github.com/berthdev/berth/internal/ociimage"
	"github.com/berthdev/berth/pkg/api"
)

// Images the real node gets; nothing is pulled (tags other than latest
// are pulled only if absent).
const (
	realStepImage  = "berth.test/busybox:1"
	realGitImage   = "berth.test/git:1"
	realBerthImage = "berth.test/berth:e2e"
)

// realPipeline runs on the real node: a build step that keeps bin/built,
// a test step that fails with 7.
const realPipeline = `on: [manual]
executor: {env: ci}
steps:
  - name: build
    image: ` + realStepImage + `
    run: |
      echo "app: $(grep '^name:' berth.yaml)"
      echo "pid 1 is $(cat /proc/1/comm)"
      mkdir -p bin && echo "built from $BERTH_COMMIT in pod $(hostname)" > bin/built
      if [ -f deps/made ]; then echo "deps from cache: $(cat deps/made) $(cat ~/.tool/v)"
      else mkdir -p deps ~/.tool && echo "made in pod $(hostname)" > deps/made && echo "tool-1" > ~/.tool/v; fi
    artifacts: [bin/]
    cache:
      key: deps-{{ hash "berth.yaml" }}
      paths: [deps/, ~/.tool]
  - name: test
    needs: [build]
    image: ` + realStepImage + `
    run: |
      cat bin/built
      echo "failing on purpose"
      exit 7
`

// TestPipelineOnRealNode runs a cluster pipeline whose pods really run,
// on a kubelet with containerd and runc (kubetest's real node): the
// checkout pod clones the test's repository over HTTP with Debian's git,
// a step's script writes files kept as artifacts, which the step agent
// (the berth binary, installed by the init container from Berth's image)
// uploads to the server, and a later step's script fails the run with its
// exit code. `berth run download` then gets the files the pod made.
func TestPipelineOnRealNode(t *testing.T) {
	kc := kubetest.Start(t, kubetest.Options{RealNode: true})
	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	importRealImages(ctx, t, kc.Node)
	// One workspace claim per run; the PV is a directory of the host.
	makeHostPathPV(ctx, t, kc, "realpipe-ws-1", filepath.Join(t.TempDir(), "ws1"))
	makeHostPathPV(ctx, t, kc, "realpipe-ws-2", filepath.Join(t.TempDir(), "ws2"))

	// Pods reach the host at its bridge address: the git server and the
	// API (the step agent's uploads) listen there.
	work := sleeperRepoOn(t, "realpipe", realPipeline, kc.Node.HostIP)

	apiAddr := freeAddrOn(t, kc.Node.HostIP)
	var s *server
	cleanupApps(t, &s)
	s = startServer(t, t.TempDir(), apiAddr, freeAddr(t),
		"--advertise-url", "http://"+apiAddr,
		"--pipeline-checkout-image", realGitImage,
		"--cluster-gateway-image", realBerthImage)
	s.mustBerth("cluster", "add", "real", "--kubeconfig", kc.Kubeconfig)
	s.mustBerth("env", "create", "ci", "--cluster", "real", "--namespace", "realpipe")
	s.mustBerth("apply", "-f", filepath.Join(work, "berth.yaml"), "--wait=false")
	s.mustBerth("pipeline", "run", "realpipe")
	logs, _ := s.berth("run", "logs", "realpipe.1", "-f")
	t.Logf("run log:\n%s", logs)

	var run api.Run
	if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "realpipe.1", "-o", "json")), &run); err != nil {
		t.Fatal(err)
	}
	steps := map[string]api.RunStep{}
	for _, st := range run.Steps {
		steps[st.Name] = st
	}
	if run.State != "failed" || run.ExitCode != 7 || steps["build"].Status != "success" || steps["test"].Status != "failure" || steps["test"].ExitCode != 7 {
		t.Fatalf("run %s exit %d, steps %+v; log:\n%s", run.State, run.ExitCode, run.Steps, logs)
	}
	for _, want := range []string{
		"[berth] checked out " + run.Commit, // the checkout pod's git
		"app: name: realpipe",               // the step read the checkout
		"pid 1 is sh",                       // in a container of its own
		"failing on purpose",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("run log lacks %q:\n%s", want, logs)
		}
	}

	dir := filepath.Join(t.TempDir(), "out")
	if out := s.mustBerth("run", "download", "realpipe.1", "--step", "build", "-d", dir); !strings.Contains(out, "1 files of step build unpacked") &&
		!strings.Contains(out, "1 file of step build unpacked") {
		t.Errorf("download: %s", out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "bin", "built"))
	if want := "built from " + run.Commit + " in pod "; err != nil || !strings.HasPrefix(string(got), want) {
		t.Errorf("bin/built = %q, %v; want it to start %q", got, err, want)
	}

	// The build step's cache: run 1 missed and its agent saved deps/ and
	// ~/.tool; run 2's agent restores them before the script, which then
	// finds what run 1's pod made (on a workspace volume of its own).
	if c := steps["build"].Cache; c == nil || c.Hit || !c.Saved || !strings.HasPrefix(c.Key, "deps-") {
		t.Fatalf("run 1 build cache %+v; want a saved miss of deps-...", c)
	}
	s.mustBerth("pipeline", "run", "realpipe")
	logs2, _ := s.berth("run", "logs", "realpipe.2", "-f")
	var run2 api.Run
	if err := json.Unmarshal([]byte(s.mustBerth("run", "show", "realpipe.2", "-o", "json")), &run2); err != nil {
		t.Fatal(err)
	}
	var build2 api.RunStep
	for _, st := range run2.Steps {
		if st.Name == "build" {
			build2 = st
		}
	}
	if c := build2.Cache; build2.Status != "success" || c == nil || !c.Hit || c.Saved || c.Key != steps["build"].Cache.Key {
		t.Fatalf("run 2 build %s, cache %+v; want a hit of %s; log:\n%s", build2.Status, c, steps["build"].Cache.Key, logs2)
	}
	if want := "deps from cache: made in pod "; !strings.Contains(logs2, want) || !strings.Contains(logs2, "tool-1") {
		t.Errorf("run 2 log lacks %q and tool-1 (the restored cache):\n%s", want, logs2)
	}
}

// importRealImages gives the node the step image (busybox), the checkout
// image (busybox and git) and Berth's image of the binary under test.
func importRealImages(ctx context.Context, t *testing.T, node *kubetest.RealNode) {
	t.Helper()
	step, err := kubetest.BusyboxImage(ctx, realStepImage)
	if err != nil {
		t.Skipf("no step image: %v", err)
	}
	git, err := kubetest.GitImage(ctx, realGitImage)
	if err != nil {
		t.Skipf("no git image: %v", err)
	}
	for _, img := range []kubetest.Writer{step, git} {
		if err := node.ImportImage(ctx, img); err != nil {
			t.Fatal(err)
		}
	}
	tar := filepath.Join(t.TempDir(), "berth-image.tar")
	f, err := os.Create(tar)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ociimage.Write(f, ociimage.Options{Binary: berthBin, CABundle: "/etc/ssl/certs/ca-certificates.crt", Ref: realBerthImage, Arch: runtime.GOARCH})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := node.ImportTar(ctx, tar); err != nil {
		t.Fatal(err)
	}
}

// makeHostPathPV makes a volume for the run's workspace claim: a
// directory of the host, which the real node mounts into the run's pods.
func makeHostPathPV(ctx context.Context, t *testing.T, kc *kubetest.Cluster, name, dir string) {
	t.Helper()
	dirOrCreate := corev1.HostPathDirectoryOrCreate
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &dirOrCreate}},
		},
	}
	if _, err := kc.Client(t).CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// freeAddrOn is a free TCP address on ip.
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr())
}
