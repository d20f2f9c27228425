package kube

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"

	"github.com/berthdev/berth/internal/pipeline/artifact"
	"github.com/berthdev/berth/internal/pipeline/executor"
)

// The step agent: the server cannot read a pod's volume, so a step that
// keeps artifacts sends them itself, and a step with a cache restores
// and saves it itself. An init container running the Berth image copies
// its binary into an emptyDir of the pod ("berth step-agent install");
// the step's command restores the cache ("berth step-agent cache
// restore"), runs the script and, once it exited 0, saves the cache if
// the restore found none ("cache save") and sends the artifacts
// ("upload"), which packs the files the patterns name (rooted in the
// checkout) and PUTs them to the server — all with a token good for
// this run, step and attempt only. The token is in the step's Secret
// (BERTH_STEP_TOKEN, read with envFrom like the step's variables), never
// in the pod spec; so is the cache key, which the server expanded and
// which the agent only shows (the server maps the token to it). The
// script's exit code stays the step's; a restore that failed is a miss;
// an upload that failed fails the step with the agent's exit code, a
// save that failed does not (said in the step's log): a cache is an
// optimisation, and the local executor does the same.
const (
	agentVolume    = "berth-agent"
	agentDir       = "/berth/agent"
	agentBinary    = agentDir + "/berth"
	agentContainer = "berth-agent"
	agentTokenEnv  = artifact.TokenEnv
	agentKeyEnv    = artifact.CacheKeyEnv
)

// agentWrapper is the step's shell text: it runs the script ($1); before
// it, with a cache URL ($2), the agent at bin restores the cache, and
// after it exited 0 saves the cache paths (the first $4 arguments after
// the fourth) when the restore did not hit, whatever the save's outcome;
// then, with an upload URL
// ($3), sends the artifact patterns (the rest). Everything comes as
// arguments, so no pattern, path or script is ever quoted into shell
// text.
func agentWrapper(bin string) string {
	return `s=$1 c=$2 u=$3 n=$4; shift 4; m=0; ` +
		`if [ -n "$c" ]; then ` + bin + ` step-agent cache restore --url "$c" --dir .; m=$?; fi; ` +
		`/bin/sh -c "$s" || exit; ` +
		`if [ -n "$c" ] && [ "$m" != 0 ]; then ` + bin + ` step-agent cache save --url "$c" --dir . --count "$n" -- "$@"; fi; ` +
		`shift "$n"; ` +
		`if [ -n "$u" ]; then exec ` + bin + ` step-agent upload --url "$u" --dir . -- "$@"; fi`
}

// needsAgent says whether the step's pod runs the agent: it keeps
// artifacts or has a cache, and the server gave it a token to do so.
func needsAgent(s executor.StepSpec) bool {
	return s.Upload != nil && (len(s.Artifacts) > 0 || s.Cache != nil && s.Cache.URL != "")
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
	c.Command = append([]string{"/bin/sh", "-c", agentWrapper(agentBinary), "berth-step"}, agentArgs(s)...)
	c.VolumeMounts = append(c.VolumeMounts, mount)
}

// agentArgs are the wrapper's arguments for s: script, cache URL, upload
// URL, the number of cache paths, the cache paths, the artifact patterns.
func agentArgs(s executor.StepSpec) []string {
	var cacheURL, uploadURL string
	var paths []string
	if s.Cache != nil {
		cacheURL, paths = s.Cache.URL, s.Cache.Paths
	}
	if len(s.Artifacts) > 0 {
		uploadURL = s.Upload.URL
	}
	args := []string{s.Script, cacheURL, uploadURL, strconv.Itoa(len(paths))}
	args = append(args, paths...)
	return append(args, s.Artifacts...)
}
