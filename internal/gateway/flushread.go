package gateway

import (
	"bufio"
	"net"
	"os"
	"syscall"
)

// flushReader is the reader under a connection's bufio.Reader. It lets a
// message and the wait for its answer share one trip into the runtime's
// poller: when the connection's writer holds a message whose answer is
// the next thing to read (a request sent to an instance, a response sent
// to a keep-alive client, whose next request is the answer), the write is
// deferred to the next Read, which sends it from inside a RawConn read
// callback and then waits for the poller to report the answer before it
// reads.
//
// Why: Go's own Read always tries the read(2) first and parks only when
// it finds nothing (EAGAIN). Right after a message is sent its answer is
// almost never there yet, so that first try is a syscall wasted per
// message: two per proxied request, a third of the gateway's reads.
// RawConn.Read resets the descriptor's readiness before it calls the
// callback, and the write happens inside the callback, so an answer that
// arrives any time after the write wakes the wait: nothing is missed.
// The write and read inside the callback skip the runtime's syscall
// bookkeeping (rawRead, rawWrite), which at low rates woke the runtime's
// sysmon thread on nearly every request.
type flushReader struct {
	c  net.Conn
	rc syscall.RawConn // nil: every read goes to c as it is
	bw *bufio.Writer
	// pending: bw holds a message to send before the next read.
	pending bool
	// afterFlush, when set, runs once the pending message is sent and
	// before the wait; an error ends the read with it.
	afterFlush func() error

	// One read's state, in the struct so that the callback (made once per
	// connection) allocates nothing.
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
	// fd is the descriptor while the callback sends (Write uses it), else -1.
	fd int
}

// Write is the writer under bw. Inside the read callback it writes to the
// descriptor directly (rawWrite); what a full send buffer refuses, and
// every write outside the callback, goes through the connection.
func (r *flushReader) Write(p []byte) (int, error) {
	if r.fd < 0 {
		return r.c.Write(p)
	}
	done := 0
	for done < len(p) {
		n, e := rawWrite(uintptr(r.fd), p[done:])
		switch e {
		case 0:
			done += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			n, err := r.c.Write(p[done:])
			return done + n, err
		default:
			return done, os.NewSyscallError("write", e)
		}
	}
	return done, nil
}

func (r *flushReader) init(c net.Conn, bw *bufio.Writer) {
	r.c, r.bw, r.pending, r.fd = c, bw, false, -1
	r.rc = rawConnOf(c)
	if r.rc != nil && r.fn == nil {
		r.fn = r.step
	}
}

// deferFlush marks bw's content to be sent by the next Read; false when
// this connection cannot do that (then the caller flushes).
func (r *flushReader) deferFlush() bool {
	if r.rc == nil {
		return false
	}
	r.pending = true
	return true
}

// flushNow sends a deferred message at once, as when the connection is
// about to close.
func (r *flushReader) flushNow() error {
	if !r.pending {
		return nil
	}
	return r.flush()
}

func (r *flushReader) flush() error {
	r.pending = false
	if err := r.bw.Flush(); err != nil {
		return err
	}
	if r.afterFlush != nil {
		return r.afterFlush()
	}
	return nil
}

func (r *flushReader) Read(p []byte) (int, error) {
	if !r.pending || len(p) == 0 {
		return r.c.Read(p)
	}
	r.p, r.n, r.err = p, 0, nil
	err := r.rc.Read(r.fn)
	r.p = nil
	if err != nil {
		// The read failed before the callback ran (a read deadline
		// passed, say): the message still goes out, the ordinary way.
		if r.pending {
			if ferr := r.flush(); ferr != nil {
				return 0, ferr
			}
		}
		return 0, err
	}
	return r.n, r.err
}

// step is the RawConn read callback: the first call sends the pending
// message and asks to wait; later calls read, and ask to wait again when
// the poller woke them for nothing.
func (r *flushReader) step(fd uintptr) bool {
	if r.pending {
		r.fd = int(fd)
		err := r.flush()
		r.fd = -1
		if err != nil {
			r.err = err
			return true
		}
		return false
	}
	n, again, err := readFD(fd, r.p)
	if again {
		return false
	}
	r.n, r.err = n, err
	return true
}
