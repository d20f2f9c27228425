package kube

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The log is opened only once the step container started: before that
// the API server serves a pod not yet on a node an empty log that ends at
// once, which would pass for the whole output (a real node lost the
// output of short steps so; TestPipelineOnRealNode in test/e2e runs it
// for real). The fake client answers every log with "fake logs".
func TestLogsWaitForTheContainerToStart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		desc  string
		state corev1.ContainerState
		want  string // the output; "" with the error unread
	}{
		{"pending", corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}, ""},
		{"running", corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}, "fake logs"},
		{"ended", corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}}, "fake logs"},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "step-pod", Namespace: "ci"},
				Status:     corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: containerName, State: tt.state}}},
			}
			ex, err := New(Options{Client: fake.NewClientset(pod), Namespace: "ci"})
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			f := ex.followLogs(t.Context(), pod.Name, &out)
			unread := f.stop(2 * logRetry)
			if out.String() != tt.want {
				t.Errorf("output %q, want %q", out.String(), tt.want)
			}
			if tt.want == "" && (unread == nil || !strings.Contains(unread.Error(), "has not started")) {
				t.Errorf("unread = %v, want the container has not started", unread)
			}
			if tt.want != "" && unread != nil {
				t.Errorf("unread = %v", unread)
			}
		})
	}
}
