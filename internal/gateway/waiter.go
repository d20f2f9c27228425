package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// watchEvery is how often a request blocked on an instance looks whether
// its client went away. The connection's read deadline is armed at most
// this far ahead, and when it fires early the request checks its context
// and re-arms: this replaces a context.AfterFunc per request (four
// allocations and a cancellation hook) with nothing at all for responses
// that come back within watchEvery.
const watchEvery = time.Second

// rearmSlack: a deadline armed within this much of the wanted one is left
// as it is, so a busy connection re-arms a few times a second rather than
// on every request (each arming costs a runtime timer update).
const rearmSlack = 250 * time.Millisecond

// waiter does the blocking reads of one exchange with an instance, under
// the exchange's deadline (zero: none, for event streams) and watching
// the client.
type waiter struct {
	pc    *pconn
	ctx   context.Context
	final time.Time
	// client, for the gateway's own server: its context is the
	// connection's, so whether the client left is looked up here.
	client *h1conn
}

// arm sets the connection's deadline for the next wait: the final
// deadline if it is near, else one watchEvery ahead.
func (w *waiter) arm(now time.Time) {
	d := now.Add(watchEvery)
	if !w.final.IsZero() && !w.final.After(d) {
		d = w.final
	} else if a := w.pc.armed; !a.IsZero() && d.Sub(a) < rearmSlack && a.Sub(d) < rearmSlack {
		return
	}
	_ = w.pc.c.SetDeadline(d)
	w.pc.armed = d
}

// fill waits until the reader has at least one more byte buffered than
// it had (Peek does not consume, so a deadline firing loses nothing).
func (w *waiter) fill(br *bufio.Reader) error {
	for {
		_, err := br.Peek(br.Buffered() + 1)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		if w.ctx.Err() != nil || (w.client != nil && w.client.gone()) {
			return errClientGone
		}
		now := time.Now()
		if !w.final.IsZero() && !now.Before(w.final) {
			return err
		}
		w.pc.armed = time.Time{} // it fired: re-arm for real
		w.arm(now)
	}
}

// readLine returns the next line, "\n" included; it stays valid until the
// next read.
func (w *waiter) readLine(br *bufio.Reader) ([]byte, error) {
	for {
		buf, _ := br.Peek(br.Buffered())
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			_, _ = br.Discard(i + 1)
			return buf[:i+1], nil
		}
		if br.Buffered() == br.Size() {
			return nil, fmt.Errorf("%w: line longer than %d bytes", errHeaderTooLarge, br.Size())
		}
		if err := w.fill(br); err != nil {
			return nil, err
		}
	}
}
