package kube

import (
	"maps"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// pod is the step's pod: its variables come from the Secret of the same
// name, nothing secret is in the spec.
func (e *Executor) pod(s executor.StepSpec, name, image string) *corev1.Pod {
	no := false
	var deadline *int64
	if s.Timeout > 0 {
		// A backstop for a server that stopped watching: the kubelet ends
		// the pod itself a little after the step's own timeout.
		d := int64((s.Timeout + deadlineBackstop) / time.Second)
		deadline = &d
	}
	grace := int64(e.o.KillGrace / time.Second)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				managedByLabel: managedByValue, runLabel: labelValue(s.RunID), stepLabel: labelValue(s.Name),
			},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			ActiveDeadlineSeconds:         deadline,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Containers: []corev1.Container{{
				Name:       containerName,
				Image:      image,
				Command:    []string{"/bin/sh", "-c", s.Script},
				WorkingDir: s.Workspace.Src,
				EnvFrom:    []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}}}},
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "workspace", MountPath: s.Workspace.Root}},
			}},
			Volumes: []corev1.Volume{{
				Name: "workspace",
				VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: claimName(s.RunID),
				}},
			}},
		},
	}
	if needsAgent(s) {
		e.withAgent(pod, s)
	}
	return pod
}

// stepData is what the step's Secret holds: its variables and secrets.
func stepData(s executor.StepSpec) map[string]string {
	data := map[string]string{}
	maps.Copy(data, s.Env)
	maps.Copy(data, s.Secrets)
	data["HOME"] = s.Workspace.Home
	if needsAgent(s) {
		data[agentTokenEnv] = s.Upload.Token // the Secret's, never the spec's
	}
	if s.Cache != nil && s.Cache.URL != "" {
		data[agentKeyEnv] = s.Cache.Key
	}
	return data
}

// ownedSecret is the Secret of pod's name holding data, owned by the pod
// (so the garbage collector removes it with the pod).
func ownedSecret(pod *corev1.Pod, data map[string]string) *corev1.Secret {
	yes := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:   pod.Name,
			Labels: pod.Labels,
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID, BlockOwnerDeletion: &yes,
			}},
		},
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}
}
