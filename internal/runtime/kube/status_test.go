package kube

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/berthdev/berth/internal/runtime"
)

// The kubelet states a kwok node cannot produce (a crashing container, an
// image that cannot be pulled, a failing probe) are checked on pod
// objects as the kubelet writes them; the scheduler's and quota reasons
// are checked against the real control plane in behaviour_test.go.
func TestPodInstance(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-abc"},
			Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{
				Name: containerName, Ports: []corev1.ContainerPort{{Name: "main", ContainerPort: 8080}},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(8080)}},
					PeriodSeconds: 1, FailureThreshold: 2,
				},
			}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.5"},
		}
	}
	for _, c := range []struct {
		desc  string
		edit  func(*corev1.Pod)
		state runtime.InstanceState
		ready bool
		msg   string
		exit  int
	}{
		{"running and ready", func(p *corev1.Pod) {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, Ready: true,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-time.Minute))}}}}
		}, runtime.StateRunning, true, "", -1},
		{"crash loop", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName, RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 40s restarting failed container"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 3, Message: "boom\n"}}}}
		}, runtime.StateBackoff, false, "CrashLoopBackOff: back-off 40s restarting failed container (last exit code 3)", 3},
		{"image pull", func(p *corev1.Pod) {
			p.Status.Phase = corev1.PodPending
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName,
				State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ImagePullBackOff", Message: `Back-off pulling image "nope:1"`}}}}
		}, runtime.StateBackoff, false, `ImagePullBackOff: Back-off pulling image "nope:1"`, -1},
		{"unschedulable", func(p *corev1.Pod) {
			p.Spec.NodeName = ""
			p.Status.Phase = corev1.PodPending
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodScheduled, Status: corev1.ConditionFalse,
				Reason: "Unschedulable", Message: "0/2 nodes are available: 2 Insufficient cpu."}}
		}, runtime.StateStarting, false, "Unschedulable: 0/2 nodes are available: 2 Insufficient cpu.", -1},
		{"failing health check", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-time.Minute))}}}}
		}, runtime.StateUnhealthy, false, "health check GET :8080/healthz failing", -1},
		{"just started", func(p *corev1.Pod) {
			p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: containerName,
				State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(now.Add(-time.Second))}}}}
		}, runtime.StateStarting, false, "waiting for health check GET :8080/healthz", -1},
		{"being deleted", func(p *corev1.Pod) {
			ts := metav1.NewTime(now)
			p.DeletionTimestamp = &ts
		}, runtime.StateStopping, false, "being deleted", -1},
	} {
		t.Run(c.desc, func(t *testing.T) {
			p := base()
			c.edit(p)
			in := podInstance(p, now)
			if in.State != c.state || in.Ready != c.ready || in.Message != c.msg {
				t.Errorf("state %s ready %v message %q, want %s %v %q", in.State, in.Ready, in.Message, c.state, c.ready, c.msg)
			}
			if in.ID != "web-abc" || in.Port != 8080 || in.Host != p.Status.PodIP {
				t.Errorf("address %s %s:%d", in.ID, in.Host, in.Port)
			}
			if c.exit >= 0 && (in.LastExit == nil || in.LastExit.Code != c.exit || !strings.Contains(strings.Join(in.LastExit.LogTail, "\n"), "boom")) {
				t.Errorf("last exit %+v, want code %d with the termination message", in.LastExit, c.exit)
			}
		})
	}
}
