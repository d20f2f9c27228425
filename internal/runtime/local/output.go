package local

import (
	"bufio"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
)

// rotatingWriter appends to a log file and rotates it by size: path, then
// path.1 (older), path.2 ... up to files in all. Writes are whole lines (see
// copyLines), so a rotation never splits a line between files.
type rotatingWriter struct {
	mu       sync.Mutex
	path     string
	maxBytes int64
	files    int
	f        *os.File
	size     int64
	closed   bool
}

func openRotating(path string, maxBytes int64, files int) (*rotatingWriter, error) {
	w := &rotatingWriter{path: path, maxBytes: maxBytes, files: max(files, 1)}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *rotatingWriter) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f, w.size = f, fi.Size()
	return nil
}

func (w *rotatingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, os.ErrClosed
	}
	if w.f == nil {
		// An earlier rotation could not open the new file (disk full...):
		// try again rather than lose output for good.
		if err := w.open(); err != nil {
			return 0, err
		}
	}
	if w.size > 0 && w.size+int64(len(p)) > w.maxBytes {
		if err := w.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := w.f.Write(p)
	w.size += int64(n)
	return n, err
}

// rotate shifts path.N-1 -> path.N ... path -> path.1 and starts an empty
// path. A reader that holds the old file open still reads it to the end.
func (w *rotatingWriter) rotate() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f = nil
	if w.files == 1 {
		_ = os.Remove(w.path)
	} else {
		_ = os.Remove(rotatedName(w.path, w.files-1))
		for i := w.files - 2; i >= 1; i-- {
			_ = os.Rename(rotatedName(w.path, i), rotatedName(w.path, i+1))
		}
		if err := os.Rename(w.path, rotatedName(w.path, 1)); err != nil {
			return err
		}
	}
	return w.open()
}

func (w *rotatingWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

func rotatedName(path string, i int) string {
	if i == 0 {
		return path
	}
	return path + "." + strconv.Itoa(i)
}

// lineRing keeps the last lines written, for Exit.LogTail.
type lineRing struct {
	mu    sync.Mutex
	lines []string
	max   int
}

func (r *lineRing) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.lines) == r.max {
		copy(r.lines, r.lines[1:])
		r.lines = r.lines[:r.max-1]
	}
	r.lines = append(r.lines, line)
}

func (r *lineRing) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = r.lines[:0]
}

func (r *lineRing) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...)
}

// maxLine bounds a line: a longer one is written in pieces.
const maxLine = 64 << 10

// copyLines copies a process's output from src to dst line by line (raw,
// nothing added) and keeps the last lines in ring. Output that ends without
// a newline gets one, so the next run's output starts on its own line.
func copyLines(dst io.Writer, src io.Reader, ring *lineRing) {
	br := bufio.NewReaderSize(src, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				line = append(append([]byte(nil), line...), '\n')
			}
			_, _ = dst.Write(line)
			text := string(line)
			if n := len(text); n > 0 && text[n-1] == '\n' {
				text = text[:n-1]
			}
			ring.add(text)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}
