package local

import (
	"net"
	"os"
	"path/filepath"
	"time"
)

// The shims tell the runtime that a state file changed by sending one
// datagram to a socket in the runtime folder, so a ready instance is
// noticed at once instead of at the next poll (which stays, as the
// fallback for a notification that got lost or a server that was down).
const fileNotify = "notify.sock"

// maxSocketPath is the longest path a unix socket address may have on
// Linux (sun_path is 108 bytes with its terminating NUL).
const maxSocketPath = 107

// listenNotify opens the socket, or returns nil when the path is too long
// for a socket address: polling alone still works.
func (r *Runtime) listenNotify() *net.UnixConn {
	path := filepath.Join(r.layout.root, fileNotify)
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if len(path) > maxSocketPath {
		r.log.Info("state notifications off: socket path too long; polling only", "path", path)
		return nil
	}
	_ = os.Remove(path) // left by a server that died
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		r.log.Warn("state notifications off; polling only", "err", err)
		return nil
	}
	r.notifyPath = path
	return conn
}

// readNotify turns datagrams into kicks of the poll loop until conn closes.
func (r *Runtime) readNotify(conn *net.UnixConn) {
	buf := make([]byte, 16)
	for {
		if _, err := conn.Read(buf); err != nil {
			return
		}
		select {
		case r.kick <- struct{}{}:
		default: // a kick is pending already; it covers this change too
		}
	}
}

// notifier is the shim's end: best effort, never blocking the shim.
type notifier struct {
	path string
	conn *net.UnixConn
}

func (n *notifier) send() {
	if n.path == "" {
		return
	}
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.path, Net: "unixgram"})
		if err != nil {
			return // no server listening: it polls when it comes back
		}
		n.conn = c
	}
	_ = n.conn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	if _, err := n.conn.Write([]byte{1}); err != nil {
		_ = n.conn.Close()
		n.conn = nil // the server restarted: dial its new socket next time
	}
}
