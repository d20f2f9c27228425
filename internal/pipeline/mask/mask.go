// Package mask hides secret values in step logs.
package mask

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
)

// Replacement is what a secret becomes in the log.
const Replacement = "***"

// MinLinePart is the shortest line of a multi-line secret that is masked on
// its own; shorter lines ("}", "-----") would blank out ordinary output.
const MinLinePart = 4

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("mask: writer closed")

// Writer replaces every occurrence of a secret in what passes through it
// with Replacement, also when a secret is split across Write calls or spans
// lines. It holds back at most len(longest secret)-1 bytes, the most that
// can still turn into a secret, so the log stays live; Close writes them.
// Overlapping or adjacent secrets become one Replacement.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
	keep    int    // bytes held back: len(longest)-1
	pending []byte // bytes received and not yet written
	// covered is how many leading bytes of pending are already known to be
	// part of a secret (one found before, whose tail was held back).
	covered int
	// masking is set when the last byte written was part of a secret, so a
	// secret spanning two flushes yields one Replacement, not two.
	masking bool
	closed  bool
}

// New returns a Writer that writes to w with secrets masked. A multi-line
// secret is masked whole and each of its lines (of at least MinLinePart
// bytes, without a trailing \r) on its own, because tools re-indent or
// prefix lines. Empty secrets are ignored.
func New(w io.Writer, secrets []string) *Writer {
	set := map[string]bool{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		set[s] = true
		if strings.ContainsAny(s, "\r\n") {
			for line := range strings.Lines(s) {
				line = strings.TrimRight(line, "\r\n")
				if trimmed := strings.TrimSpace(line); len(trimmed) >= MinLinePart {
					set[line] = true
					set[trimmed] = true
				}
			}
		}
	}
	m := &Writer{w: w}
	for s := range set {
		m.secrets = append(m.secrets, []byte(s))
		m.keep = max(m.keep, len(s)-1)
	}
	slices.SortFunc(m.secrets, bytes.Compare) // deterministic scanning
	return m
}

// Write masks and writes what can no longer become a secret, holding the
// rest. It always consumes all of p, unless the underlying writer fails.
func (m *Writer) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	if len(m.secrets) == 0 {
		return m.w.Write(p)
	}
	m.pending = append(m.pending, p...)
	if err := m.flush(len(m.pending) - m.keep); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close writes the bytes still held back. It does not close the
// underlying writer.
func (m *Writer) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	return m.flush(len(m.pending))
}

// flush writes pending[:cut] with secrets replaced and keeps the rest.
// Every occurrence starting before cut lies wholly in pending (cut is at
// most len-keep), so the bytes before cut are final.
func (m *Writer) flush(cut int) error {
	if cut <= 0 {
		return nil
	}
	cover := make([]bool, len(m.pending))
	for i := 0; i < m.covered && i < len(cover); i++ {
		cover[i] = true
	}
	for _, s := range m.secrets {
		for off := 0; ; {
			i := bytes.Index(m.pending[off:], s)
			if i < 0 {
				break
			}
			start := off + i
			for j := start; j < start+len(s); j++ {
				cover[j] = true
			}
			off = start + 1 // overlapping occurrences count too
		}
	}
	out := make([]byte, 0, cut)
	masking := m.masking
	for i := 0; i < cut; i++ {
		switch {
		case !cover[i]:
			out = append(out, m.pending[i])
			masking = false
		case !masking:
			out = append(out, Replacement...)
			masking = true
		}
	}
	// Bytes after cut that a secret found now already covers stay covered.
	covered := 0
	for covered < len(cover)-cut && cover[cut+covered] {
		covered++
	}
	m.pending = append(m.pending[:0], m.pending[cut:]...)
	m.covered, m.masking = covered, masking
	if len(out) == 0 {
		return nil
	}
	_, err := m.w.Write(out)
	return err
}
