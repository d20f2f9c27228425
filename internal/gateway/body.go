package gateway

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// bufPool lends the buffers chunked request bodies are read into.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

// bodyCopier streams a response body to the client. It reads straight out
// of the connection's buffered reader (no copy buffer of its own) and,
// for streams, flushes whenever it is about to wait for the instance, so
// every event reaches the client at once while a fast body is not flushed
// piece by piece.
type bodyCopier struct {
	w      http.ResponseWriter
	wait   *waiter
	stream bool // flush before waiting (chunked, unknown length, text/event-stream)
	dirty  bool // written since the last flush
	n      int64
	// clientErr is set when writing to the client failed: the copy stops
	// and the connection to the instance is dropped.
	clientErr error
}

func (c *bodyCopier) flushIfWaiting(br *bufio.Reader) {
	if c.stream && c.dirty && br.Buffered() == 0 {
		c.dirty = false
		if f, ok := c.w.(http.Flusher); ok {
			f.Flush()
		} else {
			_ = http.NewResponseController(c.w).Flush()
		}
	}
}

func (c *bodyCopier) write(b []byte) bool {
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.dirty = true
	if err != nil {
		c.clientErr = err
		return false
	}
	return true
}

// copyN copies exactly n bytes; an error is the instance's (a truncated
// body) unless clientErr is set.
func (c *bodyCopier) copyN(br *bufio.Reader, n int64) error {
	for n > 0 {
		if br.Buffered() == 0 {
			c.flushIfWaiting(br)
			if err := c.wait.fill(br); err != nil {
				return unexpected(err)
			}
		}
		b, _ := br.Peek(int(min(int64(br.Buffered()), n)))
		ok := c.write(b)
		_, _ = br.Discard(len(b))
		n -= int64(len(b))
		if !ok {
			return c.clientErr
		}
	}
	return nil
}

// copyEOF copies until the instance closes the connection.
func (c *bodyCopier) copyEOF(br *bufio.Reader) error {
	for {
		if br.Buffered() == 0 {
			c.flushIfWaiting(br)
			if err := c.wait.fill(br); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
		}
		b, _ := br.Peek(br.Buffered())
		ok := c.write(b)
		_, _ = br.Discard(len(b))
		if !ok {
			return c.clientErr
		}
	}
}

// copyChunked decodes a chunked body, passing its trailers on.
func (c *bodyCopier) copyChunked(br *bufio.Reader) error {
	for {
		c.flushIfWaiting(br)
		line, err := c.wait.readLine(br)
		if err != nil {
			return unexpected(err)
		}
		size, err := chunkSize(line)
		if err != nil {
			return err
		}
		if size == 0 {
			return c.trailers(br)
		}
		if err := c.copyN(br, size); err != nil {
			return err
		}
		line, err = c.wait.readLine(br)
		if err != nil {
			return unexpected(err)
		}
		if len(trimEOL(line)) != 0 {
			return fmt.Errorf("%w: chunk not followed by CRLF", errBadResponse)
		}
	}
}

func (c *bodyCopier) trailers(br *bufio.Reader) error {
	for {
		line, err := c.wait.readLine(br)
		if err != nil {
			return unexpected(err)
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return nil
		}
		k, v, ok := cutField(line)
		if !ok {
			return fmt.Errorf("%w: trailer line %q", errBadResponse, clip(line))
		}
		h := c.w.Header()
		key := http.TrailerPrefix + http.CanonicalHeaderKey(k)
		h[key] = append(h[key], v)
	}
}

func cutField(line []byte) (string, string, bool) {
	for i, b := range line {
		if b == ':' {
			if i == 0 {
				return "", "", false
			}
			k := string(line[:i])
			v := string(trimOWS(line[i+1:]))
			return k, v, true
		}
	}
	return "", "", false
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func chunkSize(line []byte) (int64, error) {
	line = trimEOL(line)
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		case c == ';' || c == ' ' || c == '\t':
			// A chunk extension (ignored) follows.
			if digits == 0 {
				return 0, fmt.Errorf("%w: chunk size line %q", errBadResponse, clip(line))
			}
			return n, nil
		default:
			return 0, fmt.Errorf("%w: chunk size line %q", errBadResponse, clip(line))
		}
		digits++
		if digits > 15 {
			return 0, fmt.Errorf("%w: chunk too large", errBadResponse)
		}
		n = n<<4 | int64(d)
	}
	if digits == 0 {
		return 0, fmt.Errorf("%w: empty chunk size line", errBadResponse)
	}
	return n, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bodyError is a failure reading the client's request body (as opposed to
// writing it to the instance).
type bodyError struct{ err error }

func (e *bodyError) Error() string { return "reading the request body: " + e.err.Error() }
func (e *bodyError) Unwrap() error { return e.err }

// sendBody streams the request body to the instance: with its length as
// announced, or chunked when length is -1. limit < 0: no limit.
func sendBody(bw *bufio.Writer, body io.Reader, length, limit int64) error {
	var sent int64
	if length >= 0 {
		for {
			if bw.Available() == 0 {
				if err := bw.Flush(); err != nil {
					return err
				}
			}
			buf := bw.AvailableBuffer()[:bw.Available()]
			n, rerr := body.Read(buf)
			sent += int64(n)
			if n > 0 {
				_, _ = bw.Write(buf[:n]) // into its own free space: a no-op copy
			}
			if limit >= 0 && sent > limit {
				return &bodyError{errBodyTooLarge}
			}
			if rerr == io.EOF {
				return nil
			}
			if rerr != nil {
				return &bodyError{rerr}
			}
		}
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var size [16]byte
	for {
		n, rerr := body.Read(buf)
		sent += int64(n)
		if limit >= 0 && sent > limit {
			return &bodyError{errBodyTooLarge}
		}
		if n > 0 {
			_, _ = bw.Write(strconv.AppendInt(size[:0], int64(n), 16))
			_, _ = bw.WriteString("\r\n")
			_, _ = bw.Write(buf[:n])
			_, _ = bw.WriteString("\r\n")
			// A chunked body is often a stream: pass each piece on now.
			if err := bw.Flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			_, err := bw.WriteString("0\r\n\r\n")
			return err
		}
		if rerr != nil {
			return &bodyError{rerr}
		}
	}
}

// isBodyError reports whether err came from the client's side.
func isBodyError(err error) bool {
	var be *bodyError
	return errors.As(err, &be)
}
