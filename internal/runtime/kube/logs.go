package kube

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/berthdev/berth/internal/runtime"
)

// Logs streams the output of the workload's pods through the pod log API
// (the kubelet keeps it). With Tail > 0 each pod starts with its last Tail
// lines; with Follow the streams stay open until ctx ends or the stream is
// closed. Lines are prefixed "[<pod>] " unless one instance was asked for
// and the workload has only that one. Pods started after the call are not
// picked up.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	if r.closed() {
		return nil, ErrClosed
	}
	if _, err := r.deployment(id); err != nil {
		return nil, err
	}
	all, err := r.pods.Pods(r.opts.Namespace).List(labels.SelectorFromSet(selectorLabels(id)))
	if err != nil {
		return nil, err
	}
	slices.SortFunc(all, olderFirst)
	pods := all
	if opts.Instance != "" {
		pods = nil
		for i, p := range all {
			if p.Name == opts.Instance || strconv.Itoa(i) == opts.Instance {
				pods = append(pods, p)
			}
		}
		if len(pods) == 0 {
			return nil, fmt.Errorf("instance %q of workload %q: %w", opts.Instance, id, runtime.ErrNotFound)
		}
	}
	prefixed := opts.Instance == "" || len(all) > 1

	sctx, cancel := context.WithCancel(ctx)
	po := &corev1.PodLogOptions{Container: containerName, Follow: opts.Follow}
	if opts.Tail > 0 {
		tail := int64(opts.Tail)
		po.TailLines = &tail
	}
	var streams []io.ReadCloser
	for _, p := range pods {
		s, err := r.client.CoreV1().Pods(r.opts.Namespace).GetLogs(p.Name, po).Stream(sctx)
		if err != nil {
			cancel()
			for _, s := range streams {
				s.Close()
			}
			return nil, fmt.Errorf("logs of instance %s of workload %s on cluster %s: %w", p.Name, id, r.opts.Cluster, err)
		}
		streams = append(streams, s)
	}

	pr, pw := io.Pipe()
	var (
		mu sync.Mutex // one line at a time into the pipe
		wg sync.WaitGroup
	)
	for i, s := range streams {
		prefix := ""
		if prefixed {
			prefix = "[" + pods[i].Name + "] "
		}
		wg.Go(func() {
			defer s.Close()
			sc := bufio.NewScanner(s)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				mu.Lock()
				_, err := io.WriteString(pw, prefix+sc.Text()+"\n")
				mu.Unlock()
				if err != nil {
					return
				}
			}
		})
	}
	// The streams end at EOF (no Follow) or when sctx ends; then the
	// reader sees EOF.
	go func() {
		wg.Wait()
		pw.Close()
	}()
	stop := context.AfterFunc(sctx, func() {
		for _, s := range streams {
			s.Close()
		}
	})
	return &logStream{PipeReader: pr, cancel: func() { stop(); cancel() }}, nil
}

type logStream struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (s *logStream) Close() error {
	s.cancel()
	return s.PipeReader.Close()
}
