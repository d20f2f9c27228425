package kube

import (
	"context"
	"fmt"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// logFollower copies the step container's log to the step's writer. It
// owns one goroutine, which stop ends.
type logFollower struct {
	cancel context.CancelFunc
	done   chan struct{}
	// unread is why the log could never be opened (set before done closes).
	unread error
}

// followLogs starts reading the log of pod name into out once its
// container has started, following it until the container ends. out is
// written by that goroutine only until stop returns.
func (e *Executor) followLogs(ctx context.Context, name string, out io.Writer) *logFollower {
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	f := &logFollower{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.unread = e.copyLogs(ctx, name, out)
	}()
	return f
}

// stop waits up to drain for the log to be read to its end, then stops
// reading it. It returns why the log could never be read, if so.
func (f *logFollower) stop(drain time.Duration) error {
	if drain > 0 {
		t := time.NewTimer(drain)
		select {
		case <-f.done:
		case <-t.C:
		}
		t.Stop()
	}
	f.cancel()
	<-f.done
	return f.unread
}

// logRetry is how often the follower asks again while the container has
// not started (the API answers 400 "waiting to start" then).
const logRetry = 250 * time.Millisecond

// copyLogs returns the last error of opening the log if it never opened.
// It opens the log only once the container has started: the API server
// answers the log of a pod not yet on a node with an empty stream that
// ends at once (no error), which would read as a step that printed
// nothing. A real kubelet showed it: a step pod scheduled a moment after
// it was created lost its whole output.
func (e *Executor) copyLogs(ctx context.Context, name string, out io.Writer) error {
	req := e.o.Client.CoreV1().Pods(e.o.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: containerName, Follow: true})
	var last error
	for {
		started, err := e.containerStarted(ctx, name)
		if err == nil && started {
			var stream io.ReadCloser
			if stream, err = req.Stream(ctx); err == nil {
				_, err = io.Copy(out, stream)
				stream.Close()
				if err != nil && ctx.Err() == nil {
					note(out, "reading the pod's log stopped: %v", err)
				}
				return nil
			}
		}
		last = err
		if err == nil {
			last = fmt.Errorf("container %s of pod %s has not started", containerName, name)
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(logRetry):
		}
	}
}

// containerStarted reports whether the pod's container is running or has
// ended: then its log is the kubelet's to serve.
func (e *Executor) containerStarted(ctx context.Context, name string) (bool, error) {
	p, err := e.o.Client.CoreV1().Pods(e.o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Name == containerName && (cs.State.Running != nil || cs.State.Terminated != nil) {
			return true, nil
		}
	}
	return false, nil
}
