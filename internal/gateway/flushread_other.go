//go:build !unix

package gateway

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf: deferred flushes are for unix sockets only; elsewhere every
// message is flushed when written.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func readFD(uintptr, []byte) (int, bool, error) { return 0, false, errors.ErrUnsupported }

func rawWrite(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
