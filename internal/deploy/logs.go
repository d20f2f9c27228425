package deploy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/berthdev/berth/internal/runtime"
)

// Logs streams the output of a service's workloads (every release it runs
// right now, oldest first). Without Follow the streams are concatenated;
// with Follow their lines are interleaved as they come. ErrNotFound if the
// service (or the instance asked for) has no workload. Service "" means
// every service of the app.
func (r *Reconciler) Logs(ctx context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	list, err := r.rt.List(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("deploy: list workloads of %s: %w", app, err)
	}
	var ids []string
	sort.Slice(list, func(i, j int) bool { return list[i].Release < list[j].Release })
	for _, w := range list {
		if (service != "" && w.Service != service) || (opts.Instance != "" && !hasInstance(w, opts.Instance)) {
			continue
		}
		ids = append(ids, w.ID)
	}
	if len(ids) == 0 {
		if opts.Instance != "" {
			return nil, fmt.Errorf("%w: instance %q of %s/%s", ErrNotFound, opts.Instance, app, service)
		}
		return nil, fmt.Errorf("%w: no running workload for %s/%s", ErrNotFound, app, service)
	}
	var rcs []io.ReadCloser
	for _, id := range ids {
		rc, err := r.rt.Logs(ctx, id, opts)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // deleted since List
		}
		if err != nil {
			closeAll(rcs)
			return nil, fmt.Errorf("deploy: logs of %s: %w", id, err)
		}
		rcs = append(rcs, rc)
	}
	var out io.ReadCloser
	switch {
	case len(rcs) == 0:
		return nil, fmt.Errorf("%w: no running workload for %s/%s", ErrNotFound, app, service)
	case len(rcs) == 1:
		out = rcs[0]
	case !opts.Follow:
		out = &concatReader{rcs: rcs}
	default:
		out = mergeLines(rcs)
	}
	return r.maskLogs(ctx, app, out), nil
}

func hasInstance(w runtime.WorkloadStatus, id string) bool {
	for _, in := range w.Instances {
		if in.ID == id {
			return true
		}
	}
	return false
}

func closeAll(rcs []io.ReadCloser) {
	for _, rc := range rcs {
		rc.Close()
	}
}

// concatReader reads its sources one after another.
type concatReader struct {
	rcs []io.ReadCloser
	i   int
}

func (c *concatReader) Read(p []byte) (int, error) {
	for c.i < len(c.rcs) {
		n, err := c.rcs[c.i].Read(p)
		if errors.Is(err, io.EOF) {
			c.i++
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
	return 0, io.EOF
}

func (c *concatReader) Close() error {
	closeAll(c.rcs)
	return nil
}

// merged interleaves whole lines of several followed streams. Its
// goroutines end when their source ends or Close is called.
type merged struct {
	pr  *io.PipeReader
	rcs []io.ReadCloser
	wg  sync.WaitGroup
}

func mergeLines(rcs []io.ReadCloser) *merged {
	pr, pw := io.Pipe()
	m := &merged{pr: pr, rcs: rcs}
	var mu sync.Mutex // one line at a time into the pipe
	for _, rc := range rcs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			br := bufio.NewReader(rc)
			for {
				line, err := br.ReadBytes('\n')
				if len(line) > 0 {
					if line[len(line)-1] != '\n' {
						line = append(line, '\n')
					}
					mu.Lock()
					_, werr := pw.Write(line)
					mu.Unlock()
					if werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
	go func() {
		m.wg.Wait()
		pw.Close()
	}()
	return m
}

func (m *merged) Read(p []byte) (int, error) { return m.pr.Read(p) }

// Close stops the readers: closing the pipe fails their next write, closing
// the sources ends their reads.
func (m *merged) Close() error {
	m.pr.Close()
	closeAll(m.rcs)
	m.wg.Wait()
	return nil
}
