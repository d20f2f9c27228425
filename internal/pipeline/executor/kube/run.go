package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/berthdev/berth/internal/pipeline/executor"
)

// Run runs one attempt of the step as a pod and waits for it to end. Its
// output goes to out as the pod log API gives it. A step with artifacts
// and an Upload sends them itself, through the step agent, after its
// script exited 0; a step with a cache restores and saves it through the
// agent too (see agent.go). The result's cache fields stay zero: the
// server records hits and saves as the agent's requests reach it.
func (e *Executor) Run(ctx context.Context, s executor.StepSpec, out io.Writer) (executor.Result, error) {
	image := s.Image
	if image == "" {
		image = e.o.DefaultImage
	}
	switch {
	case s.Script == "":
		return executor.Result{Started: time.Now()}, errors.New("kube executor: the step has no script")
	case image == "":
		return executor.Result{Started: time.Now()}, fmt.Errorf("kube executor: step %s names no image; a pod needs one: set image: in the step", s.Name)
	case s.Workspace.Src == "":
		return executor.Result{Started: time.Now()}, errors.New("kube executor: the step has no workspace; call Prepare")
	case len(s.Artifacts) > 0 && (s.Upload == nil || e.o.AgentImage == ""):
		return executor.Result{Started: time.Now()}, fmt.Errorf("kube executor: step %s keeps artifacts, which its pod must send to the server, and the server gave no upload address or agent image", s.Name)
	case s.Cache != nil && (s.Cache.URL == "" || s.Upload == nil || e.o.AgentImage == ""):
		return executor.Result{Started: time.Now()}, fmt.Errorf("kube executor: step %s has a cache, which its pod must restore from and save to the server, and the server gave no cache address, token or agent image", s.Name)
	}
	name := podName(s.RunID, s.Name)
	return e.runPod(ctx, podRun{
		what: "step", run: s.RunID, step: s.Name, timeout: s.Timeout,
		pod: e.pod(s, name, image), data: stepData(s),
	}, out)
}

// podRun is one pod the executor runs to its end: a step's, or the
// checkout that seeds a run's workspace.
type podRun struct {
	what, run, step string // for notes and logs
	timeout         time.Duration
	pod             *corev1.Pod
	// data goes in the Secret of the pod's name, owned by the pod.
	data map[string]string
}

// runPod creates p's pod and its Secret, waits for the pod to end and
// deletes it. Its output goes to out as the pod log API gives it.
func (e *Executor) runPod(ctx context.Context, p podRun, out io.Writer) (executor.Result, error) {
	res := executor.Result{Started: time.Now()}
	log := e.log.With("run", p.run, p.what, p.step)
	pods := e.o.Client.CoreV1().Pods(e.o.Namespace)
	name := p.pod.Name
	created, err := pods.Create(ctx, p.pod, metav1.CreateOptions{})
	if err != nil {
		if ctx.Err() != nil {
			return cancelled(res, out, p.what, name), nil
		}
		return res, fmt.Errorf("kube executor: create pod %s/%s: %w", e.o.Namespace, name, err)
	}
	// However the pod ends, it goes (and with it its Secret).
	defer e.deletePod(ctx, name, 0)
	if _, err := e.o.Client.CoreV1().Secrets(e.o.Namespace).Create(ctx, ownedSecret(created, p.data), metav1.CreateOptions{}); err != nil {
		// A cancel while the pod was being set up is a cancel, not a
		// failure of the step.
		if ctx.Err() != nil {
			return cancelled(res, out, p.what, name), nil
		}
		return res, fmt.Errorf("kube executor: create the %s's secret: %w", p.what, err)
	}
	log.DebugContext(ctx, "pod created", "pod", name, "namespace", e.o.Namespace)

	runCtx, cancel := ctx, context.CancelFunc(func() {})
	if p.timeout > 0 {
		runCtx, cancel = context.WithTimeout(ctx, p.timeout)
	}
	defer cancel()
	logs := e.followLogs(runCtx, name, out)
	end, err := e.waitEnd(runCtx, name, created.ResourceVersion)
	res.Finished = time.Now()
	if err != nil {
		// Stop the pod first, then let the log reader see its end.
		e.deletePod(ctx, name, e.o.KillGrace)
		e.noteUnread(out, logs.stop(0))
		switch {
		case ctx.Err() != nil:
			return cancelled(res, out, p.what, name), nil
		case errors.Is(runCtx.Err(), context.DeadlineExceeded):
			res.TimedOut, res.ExitCode = true, 124
			note(out, "%s timed out after %s; its pod %s was deleted", p.what, p.timeout, name)
			return res, nil
		}
		return res, fmt.Errorf("kube executor: pod %s: %w", name, err)
	}
	e.noteUnread(out, logs.stop(logDrainAfterEnd))
	code, ok := exitCode(end)
	if !ok {
		// The pod ended without its container ending: deadline, eviction,
		// an image that never pulled and so on.
		if end.Status.Reason == "DeadlineExceeded" {
			res.TimedOut, res.ExitCode = true, 124
			return res, nil
		}
		return res, fmt.Errorf("kube executor: pod %s %s without an exit code: %s %s", name, end.Status.Phase, end.Status.Reason, end.Status.Message)
	}
	res.ExitCode = code
	log.DebugContext(ctx, "pod ended", "pod", name, "exit_code", code)
	return res, nil
}

// cancelled is the result of a step cancelled while its pod name existed
// or was being made (the deferred or explicit delete removes it).
func cancelled(res executor.Result, out io.Writer, what, name string) executor.Result {
	res.Cancelled, res.Finished = true, time.Now()
	note(out, "%s cancelled; its pod %s was deleted", what, name)
	return res
}

// noteUnread says in the step's output that its log could not be read:
// a step with no output and one whose output was lost must not look alike.
func (e *Executor) noteUnread(out io.Writer, err error) {
	if err != nil {
		note(out, "the pod's log could not be read: %v", err)
	}
}

// exitCode is the step container's exit code, if it terminated.
func exitCode(p *corev1.Pod) (int, bool) {
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == containerName && cs.State.Terminated != nil {
			return int(cs.State.Terminated.ExitCode), true
		}
	}
	return 0, false
}

// waitEnd watches pod name until it is Succeeded or Failed, and returns
// it. It re-watches from a fresh read when the watch closes.
func (e *Executor) waitEnd(ctx context.Context, name, rv string) (*corev1.Pod, error) {
	pods := e.o.Client.CoreV1().Pods(e.o.Namespace)
	for {
		w, err := pods.Watch(ctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: rv,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("watch: %w", err)
		}
		p, err := untilEnded(ctx, w)
		w.Stop()
		if p != nil || err != nil {
			return p, err
		}
		// The watch closed (the API server's timeout, a compaction): read
		// the pod again, then watch from there.
		cur, err := pods.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("get: %w", err)
		}
		if ended(cur) {
			return cur, nil
		}
		rv = cur.ResourceVersion
	}
}

// untilEnded reads w until the pod ended (returned), it was deleted (an
// error), ctx ended (its error) or w closed (nil, nil).
func untilEnded(ctx context.Context, w watch.Interface) (*corev1.Pod, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, nil
			}
			switch ev.Type {
			case watch.Deleted:
				return nil, errors.New("deleted while the step ran (by someone else)")
			case watch.Error:
				return nil, nil // re-read and watch again
			}
			if p, ok := ev.Object.(*corev1.Pod); ok && ended(p) {
				return p, nil
			}
		}
	}
}

func ended(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// deletePod deletes the step's pod with the grace period given (0: at
// once), also after ctx ended.
func (e *Executor) deletePod(ctx context.Context, name string, grace time.Duration) {
	dctx, cancel := apiCtx(ctx)
	defer cancel()
	g := int64(grace / time.Second)
	bg := metav1.DeletePropagationBackground
	err := e.o.Client.CoreV1().Pods(e.o.Namespace).Delete(dctx, name, metav1.DeleteOptions{GracePeriodSeconds: &g, PropagationPolicy: &bg})
	if err != nil && !apierrors.IsNotFound(err) {
		e.log.WarnContext(ctx, "deleting a step pod failed", "pod", name, "err", err)
	}
}
