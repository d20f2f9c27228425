package gateway

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC11B65"

func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// wsEcho is a minimal WebSocket server (RFC 6455) echoing each frame.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		http.Error(w, "want a websocket upgrade", http.StatusBadRequest)
		return
	}
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		wsAccept(r.Header.Get("Sec-WebSocket-Key")))
	_ = brw.Flush()
	for {
		op, payload, err := wsRead(brw.Reader)
		if err != nil || op == 8 {
			return
		}
		if err := wsWrite(c, op, payload, false); err != nil {
			return
		}
	}
}

func wsRead(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return 0, nil, err
		}
		n = int(binary.BigEndian.Uint16(b[:]))
	case 127:
		return 0, nil, fmt.Errorf("frame too large for the test")
	}
	var mask [4]byte
	masked := h[1]&0x80 != 0
	if masked {
		if _, err := io.ReadFull(br, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range p {
			p[i] ^= mask[i%4]
		}
	}
	return h[0] & 0x0f, p, nil
}

func wsWrite(w io.Writer, op byte, p []byte, mask bool) error {
	var b bytes.Buffer
	b.WriteByte(0x80 | op)
	m := byte(0)
	if mask {
		m = 0x80
	}
	if len(p) < 126 {
		b.WriteByte(m | byte(len(p)))
	} else {
		b.WriteByte(m | 126)
		_ = binary.Write(&b, binary.BigEndian, uint16(len(p)))
	}
	if mask {
		key := [4]byte{1, 2, 3, 4}
		b.Write(key[:])
		for i, c := range p {
			b.WriteByte(c ^ key[i%4])
		}
	} else {
		b.Write(p)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("ws/0", "ws.localhost", "/", backend(t, "", wsEcho)))

	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	fmt.Fprintf(c, "GET /chat HTTP/1.1\r\nHost: ws.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 101 || res.Header.Get("Sec-Websocket-Accept") != wsAccept(key) || !strings.EqualFold(res.Header.Get("Upgrade"), "websocket") {
		t.Fatalf("handshake: %d %v", res.StatusCode, res.Header)
	}
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("101 response lacks X-Request-Id")
	}
	for i, msg := range []string{"hello", strings.Repeat("x", 1000), "bye"} {
		if err := wsWrite(c, 1, []byte(msg), true); err != nil {
			t.Fatal(err)
		}
		op, got, err := wsRead(br)
		if err != nil || op != 1 || string(got) != msg {
			t.Fatalf("message %d: op %d %q %v", i, op, clip(got), err)
		}
	}
	_ = wsWrite(c, 8, nil, true)
}

// TestEventStream: each event reaches the client before the instance
// sends the next, so nothing is held back in a buffer.
func TestEventStream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ desc, contentType string }{
		{desc: "sse", contentType: "text/event-stream"},
		{desc: "chunked ndjson", contentType: "application/x-ndjson"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			next := make(chan struct{})
			addr := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				for i := range 3 {
					fmt.Fprintf(w, "data: %d\n\n", i)
					w.(http.Flusher).Flush()
					select {
					case <-next:
					case <-time.After(5 * time.Second):
						return // the client never saw the event: the test fails
					case <-r.Context().Done():
						return
					}
				}
			})
			g := newTestGateway(t, Options{})
			base := front(t, g)
			r := simpleRoute("sse/0", "sse.localhost", "/", addr)
			r.Policy.Timeout = 300 * time.Millisecond // streams outlive the route timeout
			mustLoad(t, g, r)
			req, _ := http.NewRequest("GET", base+"/events", nil)
			req.Host = "sse.localhost"
			res, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			br := bufio.NewReader(res.Body)
			for i := range 3 {
				var ev []string
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						t.Fatalf("event %d: %v", i, err)
					}
					if line == "\n" {
						break
					}
					ev = append(ev, line)
				}
				if want := fmt.Sprintf("data: %d\n", i); len(ev) != 1 || ev[0] != want {
					t.Fatalf("event %d: %q", i, ev)
				}
				if tc.contentType == "text/event-stream" && i == 1 {
					time.Sleep(400 * time.Millisecond) // past the route timeout
				}
				next <- struct{}{}
			}
		})
	}
}

// TestLargeBodies streams big bodies both ways, with and without a known
// length, and checks them byte for byte.
func TestLargeBodies(t *testing.T) {
	t.Parallel()
	addr := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, _ := io.Copy(h, r.Body)
		w.Header().Set("X-Got", fmt.Sprintf("%d %x", n, h.Sum(nil)))
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", fmt.Sprint(n))
		}
		// Echo a body of the same size back.
		_, _ = io.CopyN(w, &repeatReader{}, n)
	})
	g := newTestGateway(t, Options{})
	base := front(t, g)
	r := simpleRoute("big/0", "big.localhost", "/", addr)
	r.Policy.MaxBodyBytes = -1
	mustLoad(t, g, r)
	body := make([]byte, 6<<20)
	_, _ = rand.Read(body)
	sum := sha256.Sum256(body)
	for _, tc := range []struct {
		desc    string
		reader  func() io.Reader
		chunked string
	}{
		{desc: "known length", reader: func() io.Reader { return bytes.NewReader(body) }},
		{desc: "chunked both ways", reader: func() io.Reader { return io.MultiReader(bytes.NewReader(body)) }, chunked: "1"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res := do(t, "PUT", base, "big.localhost", "/?chunked="+tc.chunked, nil, tc.reader())
			want := fmt.Sprintf("%d %x", len(body), sum)
			if res.code != 200 || res.header.Get("X-Got") != want {
				t.Fatalf("%d: instance got %q, want %q", res.code, res.header.Get("X-Got"), want)
			}
			got, _ := io.ReadAll(io.LimitReader(&repeatReader{}, int64(len(body))))
			if res.body != string(got) {
				t.Fatalf("response body differs (%d bytes, want %d)", len(res.body), len(body))
			}
		})
	}
}

// repeatReader yields a fixed pattern forever.
type repeatReader struct{ i int }

func (r *repeatReader) Read(p []byte) (int, error) {
	for k := range p {
		p[k] = byte('a' + (r.i+k)%26)
	}
	r.i += len(p)
	return len(p), nil
}

// TestClientGoneEndsUpstream: when the client gives up, the request to
// the instance ends within the watch interval, not at the route timeout.
func TestClientGoneEndsUpstream(t *testing.T) {
	t.Parallel()
	ended := make(chan time.Time, 1)
	addr := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers
		ended <- time.Now()
	})
	g := newTestGateway(t, Options{})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("gone/0", "gone.localhost", "/", addr))
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "gone.localhost"
	start := time.Now()
	client := &http.Client{Timeout: 200 * time.Millisecond}
	if _, err := client.Do(req); err == nil {
		t.Fatal("the request should have timed out")
	}
	select {
	case at := <-ended:
		if d := at.Sub(start); d > watchEvery+time.Second {
			t.Fatalf("the instance's request ended %s after the client's start", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the instance's request outlived its client (route timeout is 60s)")
	}
}
