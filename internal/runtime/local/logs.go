package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/berthdev/berth/internal/runtime"
)

// Logs streams the output of the workload's instances, read from the files
// their shims write (rotated files included, oldest first). With Tail > 0
// it starts with the last Tail lines of each instance; with Follow it then
// keeps reading what they print (surviving rotation, and picking up new
// instances) until ctx ends or the stream is closed. Each line is prefixed
// with "[<instance-id>] " when the workload has more than one instance or
// no single instance was asked for.
func (r *Runtime) Logs(ctx context.Context, id string, opts runtime.LogOptions) (io.ReadCloser, error) {
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
	}
	if r.closed() {
		return nil, ErrClosed
	}
	if _, err := os.Stat(filepath.Join(r.layout.workload(id), fileWorkload)); err != nil {
		return nil, fmt.Errorf("workload %q: %w", id, runtime.ErrNotFound)
	}
	all, err := r.logSources(id)
	if err != nil {
		return nil, fmt.Errorf("local runtime: %w", err)
	}
	srcs := all
	if opts.Instance != "" {
		srcs = nil
		for _, s := range all {
			if s.id == opts.Instance || strconv.Itoa(s.index) == opts.Instance {
				srcs = append(srcs, s)
			}
		}
		if len(srcs) == 0 {
			return nil, fmt.Errorf("instance %q of workload %q: %w", opts.Instance, id, runtime.ErrNotFound)
		}
	}
	prefixed := opts.Instance == "" || len(all) > 1

	pr, pw := io.Pipe()
	sctx, cancel := context.WithCancel(ctx)
	// When ctx ends the reader sees EOF: for Follow that is the normal end.
	stopAfter := context.AfterFunc(sctx, func() { pw.Close() })
	started := r.spawn(func() {
		defer stopAfter()
		err := r.streamLogs(sctx, pw, id, srcs, opts, prefixed)
		pw.CloseWithError(err)
	})
	if !started {
		cancel()
		return nil, ErrClosed
	}
	stopOnClose := context.AfterFunc(r.ctx, cancel)
	return &logStream{PipeReader: pr, cancel: func() { stopOnClose(); cancel() }}, nil
}

type logStream struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (s *logStream) Close() error {
	s.cancel()
	return s.PipeReader.Close()
}

// logSource is one instance's output files.
type logSource struct {
	id    string
	index int
	dir   string // the logs folder
	files int    // how many files rotation keeps
	// Following state.
	f       *os.File
	off     int64
	partial []byte
}

func (s *logSource) path(i int) string { return rotatedName(filepath.Join(s.dir, fileOutput), i) }

func (r *Runtime) logSources(id string) ([]*logSource, error) {
	indexes, err := r.layout.instanceIndexes(id)
	if err != nil {
		return nil, err
	}
	var out []*logSource
	for _, n := range indexes {
		dir := r.layout.instance(id, n)
		is, err := readInstanceSpec(dir)
		if err != nil {
			continue
		}
		out = append(out, &logSource{id: is.ID, index: n, dir: filepath.Join(dir, dirLogs), files: max(is.Tuning.LogMaxFiles, 1)})
	}
	return out, nil
}

type lineWriter struct {
	w      io.Writer
	prefix bool
}

func (lw lineWriter) line(id string, line []byte) error {
	var buf bytes.Buffer
	if lw.prefix {
		buf.WriteString("[" + id + "] ")
	}
	buf.Write(bytes.TrimSuffix(line, []byte("\n")))
	buf.WriteByte('\n')
	_, err := lw.w.Write(buf.Bytes())
	return err
}

func (r *Runtime) streamLogs(ctx context.Context, w io.Writer, id string, srcs []*logSource, opts runtime.LogOptions, prefixed bool) error {
	lw := lineWriter{w: w, prefix: prefixed}
	defer func() {
		for _, s := range srcs {
			if s.f != nil {
				s.f.Close()
			}
		}
	}()
	for _, s := range srcs {
		if err := s.history(ctx, lw, opts.Tail, opts.Follow); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	t := time.NewTicker(r.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, s := range srcs {
			if err := s.follow(lw); err != nil {
				return err
			}
		}
		if _, err := os.Stat(r.layout.workload(id)); err != nil {
			return nil // deleted: what it printed has been sent
		}
		if opts.Instance == "" {
			srcs = r.addNewSources(id, srcs)
		}
	}
}

// addNewSources starts following instances that appeared (scale-up) from
// their first line.
func (r *Runtime) addNewSources(id string, srcs []*logSource) []*logSource {
	now, err := r.logSources(id)
	if err != nil {
		return srcs
	}
	known := map[string]bool{}
	for _, s := range srcs {
		known[s.dir] = true
	}
	for _, s := range now {
		if !known[s.dir] {
			srcs = append(srcs, s)
		}
	}
	return srcs
}

// history writes the last tail lines (all when tail <= 0) of one instance.
// With follow, it opens the current file first and stops at its last
// complete line, where following goes on.
func (s *logSource) history(ctx context.Context, lw lineWriter, tail int, follow bool) error {
	cur, err := os.Open(s.path(0))
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing printed yet; follow opens it when it appears
	}
	if err != nil {
		return err
	}
	fi, err := cur.Stat()
	if err != nil {
		cur.Close()
		return err
	}
	end := fi.Size()
	if follow {
		end, err = lastNewlineEnd(cur, end)
		if err != nil {
			cur.Close()
			return err
		}
		s.f, s.off = cur, end
	} else {
		defer cur.Close()
	}
	if tail > 0 {
		lines, err := lastLines(cur, end, tail)
		if err != nil {
			return err
		}
		for i := 1; i < s.files && len(lines) < tail; i++ {
			f, err := os.Open(s.path(i))
			if err != nil {
				break
			}
			fi, err := f.Stat()
			if err == nil {
				var more [][]byte
				more, err = lastLines(f, fi.Size(), tail-len(lines))
				lines = append(more, lines...)
			}
			f.Close()
			if err != nil {
				return err
			}
		}
		for _, l := range lines {
			if err := lw.line(s.id, l); err != nil {
				return err
			}
		}
		return nil
	}
	for i := s.files - 1; i >= 1; i-- {
		f, err := os.Open(s.path(i))
		if err != nil {
			continue
		}
		err = copyAllLines(ctx, lw, s.id, f, -1)
		f.Close()
		if err != nil {
			return err
		}
	}
	return copyAllLines(ctx, lw, s.id, cur, end)
}

// follow writes what was appended since the last call, moving on to the
// next file when the current one was rotated away.
func (s *logSource) follow(lw lineWriter) error {
	for {
		if s.f == nil {
			f, err := os.Open(s.path(0))
			if err != nil {
				return nil // not there yet, or the instance is gone
			}
			s.f, s.off = f, 0
		}
		if err := s.drain(lw); err != nil {
			return err
		}
		cur, err := os.Stat(s.path(0))
		if err != nil {
			return nil
		}
		mine, err := s.f.Stat()
		if err != nil || os.SameFile(cur, mine) {
			return err
		}
		// Rotated: what we read is now output.log.k and complete (the
		// writer closes a file before renaming it). Finish it, then go on
		// with the file written after it.
		if err := s.drain(lw); err != nil {
			return err
		}
		next := s.nextAfter(mine)
		s.f.Close()
		s.f = nil
		if len(s.partial) > 0 {
			if err := lw.line(s.id, s.partial); err != nil {
				return err
			}
			s.partial = nil
		}
		f, err := os.Open(next)
		if err != nil {
			return nil
		}
		s.f, s.off = f, 0
	}
}

// nextAfter finds the file written after mine among the rotated files; if
// mine is gone already, the oldest one left.
func (s *logSource) nextAfter(mine os.FileInfo) string {
	oldest := s.path(0)
	for i := s.files - 1; i >= 1; i-- {
		fi, err := os.Stat(s.path(i))
		if err != nil {
			continue
		}
		if os.SameFile(fi, mine) {
			return s.path(i - 1)
		}
		if oldest == s.path(0) {
			oldest = s.path(i)
		}
	}
	return oldest
}

// drain writes the complete lines appended to s.f since s.off.
func (s *logSource) drain(lw lineWriter) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := s.f.ReadAt(buf, s.off)
		if n > 0 {
			s.off += int64(n)
			data := append(s.partial, buf[:n]...)
			for {
				i := bytes.IndexByte(data, '\n')
				if i < 0 {
					break
				}
				if werr := lw.line(s.id, data[:i]); werr != nil {
					return werr
				}
				data = data[i+1:]
			}
			s.partial = append([]byte(nil), data...)
			if len(s.partial) >= maxLine {
				if werr := lw.line(s.id, s.partial); werr != nil {
					return werr
				}
				s.partial = nil
			}
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// copyAllLines writes every line of f (up to end; -1 for all).
func copyAllLines(ctx context.Context, lw lineWriter, id string, f *os.File, end int64) error {
	var src io.Reader = io.NewSectionReader(f, 0, 1<<62)
	if end >= 0 {
		src = io.NewSectionReader(f, 0, end)
	}
	br := bufio.NewReaderSize(src, maxLine)
	for {
		if err := ctx.Err(); err != nil {
			return nil
		}
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if werr := lw.line(id, line); werr != nil {
				return werr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
	}
}

// lastNewlineEnd returns the offset just after the last newline before end
// (0 if there is none): where complete lines end.
func lastNewlineEnd(f *os.File, end int64) (int64, error) {
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// lastLines returns the last n lines of f's first size bytes, reading
// backwards so a large file costs no more than its tail.
func lastLines(f *os.File, size int64, n int) ([][]byte, error) {
	const chunk = 32 << 10
	var data []byte
	pos := size
	for pos > 0 {
		// Stop once the data holds more than n line ends, not counting the
		// one that ends the last line.
		if bytes.Count(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) >= n {
			break
		}
		step := min(int64(chunk), pos)
		pos -= step
		buf := make([]byte, step)
		if _, err := f.ReadAt(buf, pos); err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		data = append(buf, data...)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 && pos == 0 {
		return nil, nil
	}
	lines := bytes.Split(data, []byte("\n"))
	if pos > 0 {
		lines = lines[1:] // the first piece may be the end of a longer line
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines, nil
}
