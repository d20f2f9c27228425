package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/pipeline/executor"
	"github.com/berthdev/berth/internal/pipeline/gitsrc"
)

// Defaults for the checkout pod.
const (
	// DefaultCheckoutImage has git and a POSIX shell; any image that has
	// both (and ssh, for ssh URLs) will do. Its ENTRYPOINT is git, which
	// does not matter: the pod sets the container's command (see
	// checkoutPod), so only /bin/sh and git on PATH are required.
	DefaultCheckoutImage   = "alpine/git:2.47.2"
	DefaultCheckoutTimeout = 10 * time.Minute
	checkoutLabel          = "berth.dev/pipeline-checkout"
	// credDir is where the checkout pod sees the credential files of its
	// Secret; they are never in its environment or arguments.
	credDir = "/berth/git"
)

// Keys of the checkout pod's Secret.
const (
	keyURL        = "url"
	keyToken      = "token"
	keyUsername   = "username"
	keySSHKey     = "ssh-key"
	keyKnownHosts = "known_hosts"
)

// checkoutScript seeds the workspace as gitsrc.Checkout does on the
// server: the commit alone at depth 1, else the ref (else every branch and
// tag) in full, then a detached checkout verified against the commit. All
// it is given comes in variables and files, never spliced into the text.
// The token reaches git through a credential helper that reads its file,
// named on the command line only, so it is never in .git/config.
const checkoutScript = `set -eu
export GIT_TERMINAL_PROMPT=0 HOME=/tmp
url=$(cat /berth/git/url)
helper=
if [ -f /berth/git/token ]; then
  helper='!f() { test "$1" = get || exit 0; echo "username=$(cat /berth/git/username)"; echo "password=$(cat /berth/git/token)"; }; f'
fi
if [ -f /berth/git/ssh-key ]; then
  export GIT_SSH_COMMAND="ssh -i /berth/git/ssh-key -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/berth/git/known_hosts ${BERTH_SSH_USER:+-l $BERTH_SSH_USER}"
fi
fetch() { git -c credential.helper= -c "credential.helper=$helper" fetch -q --no-tags "$@"; }
rm -rf "$BERTH_SRC"
mkdir -p "$BERTH_SRC" "$BERTH_HOME"
cd "$BERTH_SRC"
git init -q
git remote add origin "$url"
if ! fetch --depth 1 origin "$BERTH_COMMIT:refs/remotes/origin/berth-head"; then
  if [ -n "$BERTH_REF" ]; then
    echo "[berth] the server refused the commit by its SHA; fetching $BERTH_REF"
    fetch origin "+$BERTH_REF:refs/remotes/origin/berth-ref"
  else
    echo "[berth] the server refused the commit by its SHA; fetching every branch and tag"
    fetch origin '+refs/heads/*:refs/remotes/origin/*' '+refs/tags/*:refs/tags/*'
  fi
fi
git -c advice.detachedHead=false checkout -q --detach "$BERTH_COMMIT"
test "$(git rev-parse HEAD)" = "$BERTH_COMMIT"
git config --file "$BERTH_HOME/.gitconfig" --add safe.directory "$BERTH_SRC"
chmod -R a+rwX "$BERTH_SRC" "$BERTH_HOME"
echo "[berth] checked out $BERTH_COMMIT"
`

// Checkout seeds the run's workspace (made by Prepare) with src.Commit:
// one pod runs git in the checkout image and clones it into ws.Src, so
// every step pod of the run starts from the same tree a local run would.
// The repository URL and credential go in a Secret owned by the pod and
// mounted as files; the pod spec names the commit and ref only. A source
// gitsrc would refuse (a URL or ref starting with '-', a short commit...)
// is refused before any pod is made. A checkout that fails, times out or
// is cancelled is an error; its output went to out.
func (e *Executor) Checkout(ctx context.Context, runID string, ws executor.Workspace, src gitsrc.Source, out io.Writer) error {
	if err := src.Check(); err != nil {
		return err
	}
	if ws.Src == "" {
		return errors.New("kube executor: the checkout has no workspace; call Prepare")
	}
	auth, err := src.Auth.For(src.URL)
	if err != nil {
		return err
	}
	if auth.SSHPassphrase != "" {
		return fmt.Errorf("%w: an SSH key with a passphrase cannot be used by a checkout pod; store a key without one in source.secret", gitsrc.ErrBadSource)
	}
	data := map[string]string{keyURL: src.URL}
	sshUser := ""
	switch {
	case auth.Token != "":
		data[keyToken], data[keyUsername] = auth.Token, auth.Username
	case len(auth.SSHKey) > 0:
		data[keySSHKey], data[keyKnownHosts] = string(auth.SSHKey), string(auth.KnownHosts)
		if ep, err := transport.NewEndpoint(src.URL); err == nil && ep.User == "" {
			sshUser = auth.SSHUser
		}
	}
	ref := ""
	if src.Ref != "" {
		ref = gitsrc.FullRef(src.Ref)
	}
	name := podName(runID, "checkout")
	pod := e.checkoutPod(runID, name, ws, src.Commit, ref, sshUser, data)
	res, err := e.runPod(ctx, podRun{what: "checkout", run: runID, step: "checkout", timeout: e.o.CheckoutTimeout, pod: pod, data: data}, out)
	switch {
	case err != nil:
		return err
	case res.Cancelled:
		return context.Cause(ctx)
	case res.TimedOut:
		return fmt.Errorf("kube executor: the checkout of %s timed out after %s", src.Commit, e.o.CheckoutTimeout)
	case res.ExitCode != 0:
		return fmt.Errorf("kube executor: the checkout of %s failed with exit code %d (its output is above)", src.Commit, res.ExitCode)
	}
	return nil
}

// checkoutPod runs checkoutScript in the checkout image with the run's
// workspace and the files of its Secret (only those data holds).
func (e *Executor) checkoutPod(runID, name string, ws executor.Workspace, commit, ref, sshUser string, data map[string]string) *corev1.Pod {
	no := false
	readOnly := int32(0o400)
	grace := int64(e.o.KillGrace / time.Second)
	var items []corev1.KeyToPath
	for _, k := range []string{keyURL, keyToken, keyUsername, keySSHKey, keyKnownHosts} {
		if _, ok := data[k]; ok {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	env := []corev1.EnvVar{
		{Name: "BERTH_COMMIT", Value: commit}, {Name: "BERTH_REF", Value: ref},
		{Name: "BERTH_SRC", Value: ws.Src}, {Name: "BERTH_HOME", Value: ws.Home},
	}
	if sshUser != "" {
		env = append(env, corev1.EnvVar{Name: "BERTH_SSH_USER", Value: sshUser})
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				managedByLabel: managedByValue, runLabel: labelValue(runID), checkoutLabel: "true",
			},
			Annotations: map[string]string{"berth.dev/commit": commit},
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  &no,
			EnableServiceLinks:            &no,
			Containers: []corev1.Container{{
				Name:  containerName,
				Image: e.o.CheckoutImage,
				// The command replaces the image's ENTRYPOINT and CMD
				// (alpine/git's ENTRYPOINT is git): the script runs the
				// same in any image with /bin/sh and git.
				Command: []string{"/bin/sh", "-c", checkoutScript},
				Env:     env,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
				},
				VolumeMounts: []corev1.VolumeMount{
					{Name: "workspace", MountPath: ws.Root},
					{Name: "git", MountPath: credDir, ReadOnly: true},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "workspace", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
					ClaimName: claimName(runID),
				}}},
				{Name: "git", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
					SecretName: name, Items: items, DefaultMode: &readOnly,
				}}},
			},
		},
	}
}
