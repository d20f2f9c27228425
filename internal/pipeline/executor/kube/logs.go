package kube

import (
	"context"
	"io"
	"time"

	corev1 "k8s.io/api/core/v1"
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
func (e *Executor) copyLogs(ctx context.Context, name string, out io.Writer) error {
	req := e.o.Client.CoreV1().Pods(e.o.Namespace).GetLogs(name, &corev1.PodLogOptions{Container: containerName, Follow: true})
	var last error
	for {
		stream, err := req.Stream(ctx)
		if err == nil {
			_, err = io.Copy(out, stream)
			stream.Close()
			if err != nil && ctx.Err() == nil {
				note(out, "reading the pod's log stopped: %v", err)
			}
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return last
		case <-time.After(logRetry):
		}
	}
}
