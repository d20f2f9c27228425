package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/pkg/api"
)

// pipeLogs is a LogSource fake: each call gets a pipe the test writes to.
type pipeLogs struct {
	mu    sync.Mutex
	calls []logCall
	w     chan *io.PipeWriter
}

type logCall struct {
	app, service string
	opts         runtime.LogOptions
}

func (p *pipeLogs) Logs(ctx context.Context, app, service string, opts runtime.LogOptions) (io.ReadCloser, error) {
	p.mu.Lock()
	p.calls = append(p.calls, logCall{app, service, opts})
	p.mu.Unlock()
	r, w := io.Pipe()
	p.w <- w
	return r, nil
}

func TestLogsStreamAsWritten(t *testing.T) {
	t.Parallel()
	src := &pipeLogs{w: make(chan *io.PipeWriter, 1)}
	ts := newTestServer(t, func(d *Deps) { d.Logs = src })
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)

	status, b := ts.call(t, "GET", "/api/v1/apps/shop/logs?service=db", nil)
	if status != 404 || !strings.Contains(decodeError(t, b).Message, `"db"`) {
		t.Fatalf("unknown service: %d %s", status, b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/apps/shop/logs?service=web&instance=web-0&follow=true&tail=5", nil)
	req.Header.Set("Authorization", "Bearer "+ts.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("logs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	w := <-src.w
	// Each line must arrive while the source is still open: it is flushed,
	// not buffered until the end.
	buf := make([]byte, 100)
	for _, line := range []string{"web-0 | hello\n", "web-0 | world\n"} {
		if _, err := io.WriteString(w, line); err != nil {
			t.Fatal(err)
		}
		n, err := io.ReadAtLeast(resp.Body, buf, len(line))
		if err != nil || string(buf[:n]) != line {
			t.Fatalf("read %q, %v; want %q", buf[:n], err, line)
		}
	}
	w.Close()
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the source ended: %q, %v", rest, err)
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	want := logCall{"shop", "web", runtime.LogOptions{Instance: "web-0", Follow: true, Tail: 5}}
	if len(src.calls) != 1 || src.calls[0] != want {
		t.Fatalf("calls %+v, want %+v", src.calls, want)
	}
}

func TestLogsWithoutSource(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: specV1}, nil)
	status, b := ts.call(t, "GET", "/api/v1/apps/shop/logs", nil)
	if status != 503 || decodeError(t, b).Code != api.CodeUnavailable {
		t.Fatalf("%d %s", status, b)
	}
}
