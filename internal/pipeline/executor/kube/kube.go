// Package kube runs pipeline steps as Pods on a Kubernetes cluster (an
// environment's namespace), behind the same executor.Executor interface
// as package local.
//
// One Pod per step attempt, restartPolicy Never, running `sh -c SCRIPT`
// in the step's image. The run's workspace is a PersistentVolumeClaim per
// run (Prepare creates it, Cleanup deletes it), mounted by every step pod
// of the run: steps of one run hand files to each other (build outputs,
// artifacts) through it, which an emptyDir, living and dying with one pod,
// cannot do. The step's variables and secrets go in a Secret owned by the
// pod (so the garbage collector removes it with the pod), read through
// envFrom: nothing of them is in the pod spec. The pod gets no service
// account token and no service links: a step must not reach the cluster's
// API with the executor's rights.
//
// Checkout seeds a run's claim with its commit before the first step: a
// pod running git, its credential in a Secret it owns, mounted as files.
//
// Cancel and timeout delete the pod; the exit code is read from the
// container's terminated state; the output is read through the pod log
// API into the writer the caller gave, which masks secrets (as for local).
//
// Sweep removes what runs that are not live left in the namespace (a
// server that died mid-run, a Cleanup that could not reach the cluster),
// found by the labels every object above carries.
package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"k8s.io/client-go/kubernetes"
)

// Defaults for Options.
const (
	DefaultMountPath   = "/berth/workspace"
	DefaultVolumeSize  = "1Gi"
	DefaultKillGrace   = 5 * time.Second
	containerName      = "step"
	managedByLabel     = "app.kubernetes.io/managed-by"
	managedByValue     = "berth"
	runLabel           = "berth.dev/pipeline-run"
	stepLabel          = "berth.dev/pipeline-step"
	logDrainAfterEnd   = 10 * time.Second
	deadlineBackstop   = 30 * time.Second
	defaultKubeTimeout = 30 * time.Second
)

// Options configure an Executor.
type Options struct {
	Client    kubernetes.Interface
	Namespace string
	// DefaultImage runs steps that name no image; "" makes such a step an
	// error (a pod needs an image).
	DefaultImage string
	// StorageClass of the workspace claims; "" for the cluster's default.
	StorageClass string
	// VolumeSize of each run's workspace claim; default DefaultVolumeSize.
	VolumeSize string
	// MountPath is where step pods see the workspace.
	MountPath string
	// KillGrace is the grace period a cancelled or timed-out step's pod
	// gets before its containers are killed.
	KillGrace time.Duration
	// CheckoutImage runs the pod that seeds a run's workspace with its
	// commit (see Checkout); default DefaultCheckoutImage.
	CheckoutImage string
	// CheckoutTimeout bounds that pod; default DefaultCheckoutTimeout.
	CheckoutTimeout time.Duration
	// AgentImage is a Berth image (the server's own binary): steps with
	// artifacts get an init container of it that installs the step agent,
	// which sends the artifacts to the server after the script (see
	// agent.go). "" makes such a step an error.
	AgentImage string
	Logger     *slog.Logger
}

// Executor runs steps as pods. It is safe for concurrent use.
type Executor struct {
	o   Options
	log *slog.Logger
}

// New checks the options.
func New(o Options) (*Executor, error) {
	if o.Client == nil || o.Namespace == "" {
		return nil, errors.New("kube executor: Client and Namespace are required")
	}
	if o.VolumeSize == "" {
		o.VolumeSize = DefaultVolumeSize
	}
	if o.MountPath == "" {
		o.MountPath = DefaultMountPath
	}
	if o.KillGrace <= 0 {
		o.KillGrace = DefaultKillGrace
	}
	if o.CheckoutImage == "" {
		o.CheckoutImage = DefaultCheckoutImage
	}
	if o.CheckoutTimeout <= 0 {
		o.CheckoutTimeout = DefaultCheckoutTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{o: o, log: o.Logger}, nil
}

// note writes a line of the executor's own to the step's output.
func note(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "[berth] "+format+"\n", args...)
}

// apiCtx bounds a call to the API server made after ctx ended (cleanup
// must still happen when the step was cancelled).
func apiCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), defaultKubeTimeout)
}
