package gateway

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// loopbackPair returns the two ends of a real TCP connection on loopback.
func loopbackPair(t *testing.T) (near, far net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	near, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	far = <-accepted
	if far == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { _ = near.Close(); _ = far.Close() })
	return near, far
}

// TestFlushReader: a message whose flush is deferred reaches the peer
// with the read of its answer, whether the answer comes at once, late or
// never (the connection closes, or the read deadline passes first).
func TestFlushReader(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		answer   string        // what the peer sends after reading the message
		delay    time.Duration // before it answers
		close    bool          // the peer closes instead of answering
		deadline time.Duration // read deadline from the read on; <0: passed already
		wantErr  func(error) bool
	}{
		{desc: "answer at once", answer: "pong\n"},
		{desc: "late answer: the read waits for the poller", answer: "late pong\n", delay: 50 * time.Millisecond},
		{desc: "peer closes", close: true, wantErr: func(err error) bool { return errors.Is(err, io.EOF) }},
		{desc: "deadline passes while waiting", delay: time.Second, answer: "too late\n", deadline: 30 * time.Millisecond,
			wantErr: func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
		{desc: "deadline passed before the read: the message still goes out", answer: "x\n", deadline: -1,
			wantErr: func(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			near, far := loopbackPair(t)
			var fr flushReader
			bw := bufio.NewWriter(&fr)
			fr.init(near, bw)
			br := bufio.NewReader(&fr)

			got := make(chan string, 1)
			go func() {
				line, _ := bufio.NewReader(far).ReadString('\n')
				got <- line
				time.Sleep(tc.delay)
				if tc.close {
					_ = far.Close()
					return
				}
				_, _ = io.WriteString(far, tc.answer)
			}()

			_, _ = bw.WriteString("ping\n")
			if !fr.deferFlush() {
				t.Fatal("deferFlush refused a TCP connection")
			}
			select {
			case line := <-got:
				t.Fatalf("the peer got %q before the read", line)
			case <-time.After(20 * time.Millisecond):
			}
			switch {
			case tc.deadline < 0:
				_ = near.SetReadDeadline(time.Now().Add(-time.Second))
			case tc.deadline > 0:
				_ = near.SetReadDeadline(time.Now().Add(tc.deadline))
			}
			line, err := br.ReadString('\n')
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Errorf("read: %q, %v; want an error like the test's", line, err)
				}
			} else if err != nil || line != tc.answer {
				t.Errorf("read: %q, %v; want %q", line, err, tc.answer)
			}
			select {
			case line := <-got:
				if line != "ping\n" {
					t.Errorf("peer got %q, want the message", line)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the message never reached the peer")
			}
			if fr.pending || bw.Buffered() != 0 {
				t.Errorf("after the read: pending %v, %d bytes buffered", fr.pending, bw.Buffered())
			}
			// The next read is an ordinary one.
			if tc.wantErr == nil {
				_, _ = io.WriteString(far, "again\n")
				if line, err := br.ReadString('\n'); err != nil || line != "again\n" {
					t.Errorf("second read: %q, %v", line, err)
				}
			}
		})
	}
}

// TestFlushReaderAfterFlushError: an error from afterFlush (the gateway's
// server draining) ends the read after the message was sent.
func TestFlushReaderAfterFlushError(t *testing.T) {
	near, far := loopbackPair(t)
	var fr flushReader
	bw := bufio.NewWriter(&fr)
	fr.init(near, bw)
	fr.afterFlush = func() error { return net.ErrClosed }
	_, _ = bw.WriteString("bye\n")
	fr.deferFlush()
	if _, err := bufio.NewReader(&fr).ReadByte(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("read: %v, want net.ErrClosed", err)
	}
	_ = far.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(far).ReadString('\n'); err != nil || line != "bye\n" {
		t.Errorf("peer got %q, %v; want the message", line, err)
	}
}

// TestFlushReaderNotSocket: a connection the runtime does not poll as a
// socket (net.Pipe here) is flushed by its writer as before.
func TestFlushReaderNotSocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	var fr flushReader
	fr.init(a, bufio.NewWriter(a))
	if fr.deferFlush() {
		t.Error("deferFlush accepted a net.Pipe")
	}
}

// TestFlushReaderLargeMessage: a deferred message larger than the socket's
// send buffer is sent whole (the direct write stops at the full buffer
// and the connection's own Write, which waits, sends the rest).
func TestFlushReaderLargeMessage(t *testing.T) {
	near, far := loopbackPair(t)
	const size = 16 << 20
	var fr flushReader
	bw := bufio.NewWriterSize(&fr, size+1)
	fr.init(near, bw)
	br := bufio.NewReader(&fr)
	msg := bytes.Repeat([]byte("m"), size)
	_, _ = bw.Write(msg)
	if !fr.deferFlush() {
		t.Fatal("deferFlush refused a TCP connection")
	}
	got := make(chan int, 1)
	go func() {
		n, _ := io.CopyN(io.Discard, far, size)
		got <- int(n)
		_, _ = io.WriteString(far, "all\n")
	}()
	_ = near.SetDeadline(time.Now().Add(20 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "all\n" {
		t.Fatalf("read: %q, %v", line, err)
	}
	if n := <-got; n != size {
		t.Errorf("peer got %d bytes, want %d", n, size)
	}
}
