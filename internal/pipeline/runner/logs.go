package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/pipeline/mask"
	"github.com/berthdev/berth/internal/store"
)

// logPoll is how often a following reader looks for more of a live log.
const logPoll = 100 * time.Millisecond

func (r *Runner) logPath(id string) string { return filepath.Join(r.logDir, id+".log") }

func (r *Runner) removeLog(id string) { _ = os.Remove(r.logPath(id)) }

// runLog is one run's log file. Steps write through their own masking
// writer and a line prefixer, so lines of parallel steps never mix and a
// secret never reaches the file.
type runLog struct {
	mu      sync.Mutex
	f       *os.File
	secrets []string // every secret any step received, for the run's own notes
}

func (r *Runner) openLog(id string) (*runLog, error) {
	f, err := os.OpenFile(r.logPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &runLog{f: f}, nil
}

func (l *runLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// note writes a line of Berth's own, masked like step output.
func (l *runLog) note(format string, args ...any) {
	line := l.mask(fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "[berth] %s\n", line)
}

func (l *runLog) addSecrets(values []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.secrets = append(l.secrets, values...)
}

// mask hides the run's secrets in s (an error message, a reason).
func (l *runLog) mask(s string) string {
	l.mu.Lock()
	secrets := append([]string(nil), l.secrets...)
	l.mu.Unlock()
	if len(secrets) == 0 {
		return s
	}
	var b bytes.Buffer
	w := mask.New(&b, secrets)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

func (l *runLog) writeLine(prefix string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.f, "[%s] %s\n", prefix, line)
}

// stepWriter returns the writer a step's output goes to: masked, then cut
// into lines prefixed with the step's name. Close flushes both.
func (l *runLog) stepWriter(step string, secrets []string) io.WriteCloser {
	p := &prefixer{log: l, name: step}
	return &stepOut{m: mask.New(p, secrets), p: p}
}

type stepOut struct {
	m *mask.Writer
	p *prefixer
}

func (s *stepOut) Write(b []byte) (int, error) { return s.m.Write(b) }

func (s *stepOut) Close() error {
	err := s.m.Close()
	s.p.flush()
	return err
}

// prefixer writes whole lines to the run log; a partial line waits for
// its end (or the step's end), at most maxLine bytes.
type prefixer struct {
	log     *runLog
	name    string
	partial []byte
}

const maxLine = 64 << 10

func (p *prefixer) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			if len(p.partial) >= maxLine {
				p.flush()
			}
			break
		}
		line := append(p.partial, b[:i]...)
		p.log.writeLine(p.name, bytes.TrimSuffix(line, []byte("\r")))
		p.partial = p.partial[:0]
		b = b[i+1:]
	}
	return n, nil
}

func (p *prefixer) flush() {
	if len(p.partial) > 0 {
		p.log.writeLine(p.name, p.partial)
		p.partial = p.partial[:0]
	}
}

// Logs returns run id's log. With follow, the reader waits for more until
// the run has ended and its log is complete.
func (r *Runner) Logs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	if _, err := r.st.GetRun(ctx, id); err != nil {
		return nil, err
	}
	return &logReader{ctx: ctx, r: r, id: id, follow: follow}, nil
}

type logReader struct {
	ctx    context.Context
	r      *Runner
	id     string
	follow bool
	f      *os.File
	last   bool // the run had ended at the last look: one more read, then EOF
}

func (l *logReader) Read(p []byte) (int, error) {
	for {
		if l.f == nil {
			f, err := os.Open(l.r.logPath(l.id))
			switch {
			case err == nil:
				l.f = f
			case !errors.Is(err, os.ErrNotExist):
				return 0, err
			case !l.follow || l.ended():
				return 0, io.EOF
			}
		}
		if l.f != nil {
			n, err := l.f.Read(p)
			if n > 0 || !errors.Is(err, io.EOF) {
				return n, err
			}
			if !l.follow || l.last {
				return 0, io.EOF
			}
			// The end state is written after the log is closed, so a run
			// seen ended has its whole log on disk: read it once more.
			l.last = l.ended()
			if l.last {
				continue
			}
		}
		select {
		case <-l.ctx.Done():
			return 0, l.ctx.Err()
		case <-time.After(logPoll):
		}
	}
}

func (l *logReader) ended() bool {
	run, err := l.r.st.GetRun(l.ctx, l.id)
	if err != nil {
		return true
	}
	if store.RunTerminal(run.State) {
		return true
	}
	return false
}

func (l *logReader) Close() error {
	if l.f != nil {
		return l.f.Close()
	}
	return nil
}
