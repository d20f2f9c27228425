//go:build unix

package gateway

import (
	"io"
	"net"
	"os"
	"syscall"
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
		n, err = syscall.Read(int(fd), p)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return 0, true, nil
		case err != nil:
			return 0, false, os.NewSyscallError("read", err)
		case n == 0:
			return 0, false, io.EOF
		}
		return n, false, nil
	}
}
