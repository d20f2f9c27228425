package kube

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// The step agent: the server cannot read a pod's volume, so a step that
// keeps artifacts sends them itself. An init container running the Berth
// image copies its binary into an emptyDir of the pod ("berth step-agent
// install"); the step's command runs the script and, once it exited 0,
// "berth step-agent upload", which packs the files the artifact patterns
// name (rooted in the checkout) and PUTs them to the server with a token
// good for this run, step and attempt only. The token is in the step's
// Secret (BERTH_STEP_TOKEN, read with envFrom like the step's variables),
// never in the pod spec. The script's exit code stays the step's; an
// upload that failed fails the step with the agent's exit code.
const (
	agentVolume    = "berth-agent"
	agentDir       = "/berth/agent"
	agentBinary    = agentDir + "/berth"
	agentContainer = "berth-agent"
	// agentTokenEnv is cli.StepTokenEnv (the agent reads it).
	agentTokenEnv = "BERTH_STEP_TOKEN"
)

// agentWrapper is the step's shell text: it runs the script ($1) and then
// the agent at bin with the upload URL ($2) and the artifact patterns (the
// rest) — arguments, so no pattern or script is ever quoted into shell
// text.
func agentWrapper(bin string) string {
	return `s=$1 u=$2; shift 2; /bin/sh -c "$s" || exit; exec ` + bin + ` step-agent upload --url "$u" --dir . -- "$@"`
}

// withAgent adds the agent's volume and init container to pod and wraps
// the step's command.
func (e *Executor) withAgent(pod *corev1.Pod, s executor.StepSpec) {
	no := false
	mount := corev1.VolumeMount{Name: agentVolume, MountPath: agentDir}
	pod.Spec.Volumes = append(pod.Spec.Volumes, corev1.Volume{
		Name: agentVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}},
	})
	pod.Spec.InitContainers = append(pod.Spec.InitContainers, corev1.Container{
		Name:  agentContainer,
		Image: e.o.AgentImage,
		// The image's entrypoint is the berth binary.
		Args:         []string{"step-agent", "install", agentBinary},
		VolumeMounts: []corev1.VolumeMount{mount},
		SecurityContext: &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no,
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	})
	c := &pod.Spec.Containers[0]
	c.Command = append([]string{"/bin/sh", "-c", agentWrapper(agentBinary), "berth-step", s.Script, s.Upload.URL}, s.Artifacts...)
	c.VolumeMounts = append(c.VolumeMounts, mount)
}
