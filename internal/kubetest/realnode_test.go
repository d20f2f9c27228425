package kubetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A pod of a real image runs on the real node: its script's output is
// its log (read through the API server from the kubelet) and its exit
// code ends the pod, Succeeded for 0 and Failed otherwise.
func TestRealNodeRunsPods(t *testing.T) {
	c := Start(t, Options{RealNode: true})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	img, err := BusyboxImage(ctx, "berth.test/busybox:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Node.ImportImage(ctx, img); err != nil {
		t.Fatal(err)
	}
	client := c.Client(t)
	for _, tt := range []struct {
		name  string
		code  int32
		phase corev1.PodPhase
	}{
		{"ok", 0, corev1.PodSucceeded},
		{"fails", 3, corev1.PodFailed},
	} {
		t.Run(tt.name, func(t *testing.T) {
			script := "echo hello from $(hostname) in $(cat /proc/1/comm); exit " + strconv.Itoa(int(tt.code))
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "real-" + tt.name},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					NodeSelector:  map[string]string{RealNodeLabel: "true"},
					Containers: []corev1.Container{{
						Name: "main", Image: img.Ref, ImagePullPolicy: corev1.PullNever,
						Command: []string{"/bin/sh", "-c", script},
					}},
				},
			}
			if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			var got *corev1.Pod
			for {
				got, err = client.CoreV1().Pods("default").Get(ctx, pod.Name, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got.Status.Phase == corev1.PodSucceeded || got.Status.Phase == corev1.PodFailed {
					break
				}
				select {
				case <-ctx.Done():
					t.Fatalf("pod %s still %s: %+v%s", pod.Name, got.Status.Phase, got.Status, c.Node.logTail())
				case <-time.After(200 * time.Millisecond):
				}
			}
			if got.Status.Phase != tt.phase {
				t.Errorf("phase %s, want %s", got.Status.Phase, tt.phase)
			}
			if len(got.Status.ContainerStatuses) != 1 || got.Status.ContainerStatuses[0].State.Terminated == nil {
				t.Fatalf("container statuses %+v", got.Status.ContainerStatuses)
			}
			if code := got.Status.ContainerStatuses[0].State.Terminated.ExitCode; code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
			log, err := client.CoreV1().Pods("default").GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
			if err != nil {
				t.Fatalf("%v: %s%s%s", err, log, c.logTail(), c.Node.logTail())
			}
			// PID 1 is the script's shell: a real container, not kwok.
			if want := "hello from real-" + tt.name + " in sh\n"; string(log) != want {
				t.Errorf("log %q, want %q", log, want)
			}
		})
	}
}

// A host image holds the files named, the libraries a dynamic binary
// loads, and the symlinks on their way.
func TestHostImageCopiesLibrariesAndLinks(t *testing.T) {
	t.Parallel()
	img, err := GitImage(t.Context(), "berth.test/git:1")
	if err != nil {
		t.Skipf("no busybox-static or git here: %v", err)
	}
	var buf bytes.Buffer
	if err := img.Write(t.Context(), &buf); err != nil {
		t.Fatal(err)
	}
	layer := onlyLayer(t, buf.Bytes())
	for _, want := range []string{"usr/bin/git", "usr/bin/busybox", "usr/bin/sh", "usr/lib/git-core/git-remote-http", "tmp/"} {
		if _, ok := layer[want]; !ok {
			t.Errorf("image has no %s", want)
		}
	}
	if h := layer["usr/bin/sh"]; h == nil || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
		t.Errorf("usr/bin/sh: %+v, want a link to busybox", h)
	}
	// Debian's libraries are reached through /lib -> usr/lib; whichever
	// way this machine has it, libz must be in the image.
	found := false
	for name := range layer {
		if strings.Contains(name, "libz.so") {
			found = true
		}
	}
	if !found {
		t.Error("image has no libz, which git loads")
	}
	if target, err := os.Readlink("/lib"); err == nil {
		if h := layer["lib"]; h == nil || h.Linkname != target {
			t.Errorf("lib: %+v, want a link to %s as on the host", h, target)
		}
	}
}

// onlyLayer returns the entries of an image tar's single layer by name.
func onlyLayer(t *testing.T, image []byte) map[string]*tar.Header {
	t.Helper()
	blobs := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(image))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		blobs[h.Name] = data
	}
	var layer map[string]*tar.Header
	for name, data := range blobs {
		if !strings.HasPrefix(name, "blobs/") {
			continue
		}
		entries, ok := gunzipTar(data)
		if ok {
			if layer != nil {
				t.Fatal("more than one layer")
			}
			layer = entries
		}
	}
	if layer == nil {
		t.Fatal("no layer")
	}
	return layer
}

func gunzipTar(data []byte) (map[string]*tar.Header, bool) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, false
	}
	out := map[string]*tar.Header{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out, true
		}
		if err != nil {
			return nil, false
		}
		out[filepath.Clean(h.Name)+map[bool]string{true: "/", false: ""}[h.Typeflag == tar.TypeDir]] = h
	}
}

// realnode.sh builds what FindRealNodeBinaries expects: the same versions.
func TestRealNodeVersionsMatchScript(t *testing.T) {
	t.Parallel()
	script, err := os.ReadFile(filepath.Join("..", "..", "hack", "kubeenv", "realnode.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CONTAINERD_VERSION=" + ContainerdVersion + "\n", "CNI_PLUGINS_VERSION=" + CNIPluginsVersion + "\n"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("hack/kubeenv/realnode.sh does not set %q", strings.TrimSpace(want))
		}
	}
}

// Without the binaries a real node is unavailable, and the error says
// what to build.
func TestFindRealNodeBinariesNamesWhatIsMissing(t *testing.T) {
	t.Setenv("BERTH_KUBE_CACHE", t.TempDir())
	_, err := FindRealNodeBinaries()
	if !errors.Is(err, ErrRealNodeUnavailable) {
		t.Fatalf("FindRealNodeBinaries() error = %v, want ErrRealNodeUnavailable", err)
	}
	for _, want := range []string{"kubelet", "containerd", "cni/bridge", "make kube-realnode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}
