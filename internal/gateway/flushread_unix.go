//go:build unix

package gateway

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawConnOf returns c's RawConn when c is a socket the runtime polls
// (TCP or Unix), else nil.
func rawConnOf(c net.Conn) syscall.RawConn {
	switch c.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readFD reads from a non-blocking descriptor as net.Conn's Read does;
// again: nothing to read yet.
func readFD(fd uintptr, p []byte) (n int, again bool, err error) {
	for {
		var e syscall.Errno
		n, e = rawRead(fd, p)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return 0, true, nil
		case e != 0:
			return 0, false, os.NewSyscallError("read", e)
		case n == 0:
			return 0, false, io.EOF
		}
		return n, false, nil
	}
}

// rawRead and rawWrite are read(2) and write(2) without the runtime's
// syscall bookkeeping (entersyscall/exitsyscall): on a non-blocking socket
// they never block. Why: entering a syscall the ordinary way wakes the
// runtime's sysmon thread when it sleeps (it does whenever the process
// was idle), so at a low request rate nearly every request woke sysmon
// with a futex, and sysmon then polled every 20 µs until it went back to
// sleep: a fifth of the gateway's CPU at 3,000 req/s. Such a call also
// lets sysmon hand this thread's P to another thread when the call takes
// over 20 µs (a loopback write does the receiver's TCP work inline).
func rawRead(fd uintptr, p []byte) (int, syscall.Errno)  { return rawIO(syscall.SYS_READ, fd, p) }
func rawWrite(fd uintptr, p []byte) (int, syscall.Errno) { return rawIO(syscall.SYS_WRITE, fd, p) }

func rawIO(trap, fd uintptr, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(n), 0
}
