package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// tunnel completes a protocol switch (WebSocket): the instance answered
// 101, so the client's connection is taken over, sent the 101 and its
// header, and bytes are copied both ways until either side closes or the
// gateway closes. The header was already copied into w.Header().
// It returns the bytes sent to the client, and whether the client's
// connection was taken over (if not, w can still answer).
func (g *Gateway) tunnel(w http.ResponseWriter, pc *pconn) (int64, bool, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return 0, false, fmt.Errorf("take over the client connection for the upgrade: %w", err)
	}
	closeBoth := func() {
		_ = conn.Close()
		_ = pc.c.Close()
	}
	defer closeBoth()
	stop := context.AfterFunc(g.ctx, closeBoth)
	defer stop()
	_ = conn.SetDeadline(time.Time{})
	_ = pc.c.SetDeadline(time.Time{})

	if _, err := brw.WriteString("HTTP/1.1 101 Switching Protocols\r\n"); err != nil {
		return 0, true, err
	}
	if err := w.Header().Write(brw); err != nil {
		return 0, true, err
	}
	if _, err := brw.WriteString("\r\n"); err != nil {
		return 0, true, err
	}
	if err := brw.Flush(); err != nil {
		return 0, true, err
	}

	// Both copies start with what their reader already buffered: the
	// client may have sent its first frames with the handshake, and the
	// instance its first frames with the 101. Either side ending ends the
	// tunnel: closing both connections makes the other copy return, and
	// tunnel waits for it, so the goroutine never outlives the request.
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(pc.c, brw.Reader)
		closeBoth()
	}()
	n, _ := io.Copy(conn, pc.br)
	closeBoth()
	<-done
	return n, true, nil
}
