package gateway

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// statusesUntilClose sends raw on a new connection to addr and returns
// the status of every response read until the server closes it (or a
// read fails), so two servers can be compared byte for byte.
func statusesUntilClose(t *testing.T, addr, raw string) []int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var codes []int
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
		codes = append(codes, res.StatusCode)
		if res.Close {
			return codes
		}
	}
}

// TestOwnServerParity sends the same bytes to the gateway's own server
// and to a plain net/http server: where net/http rejects a request (or
// would read the bytes as other requests), the gateway must answer the
// same. Every case ends with a request that closes the connection, so a
// desync shows as a different list of responses.
func TestOwnServerParity(t *testing.T) {
	t.Parallel()
	be := backend(t, "", func(w http.ResponseWriter, r *http.Request) { _, _ = io.Copy(io.Discard, r.Body) })
	g := newTestGateway(t, Options{MaxHeaderBytes: 16 << 10})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", be))
	gw := strings.TrimPrefix(front(t, g), "http://")

	plain := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	plain.Config.MaxHeaderBytes = 16 << 10
	plain.Start()
	t.Cleanup(plain.Close)
	ref := strings.TrimPrefix(plain.URL, "http://")

	const end = "GET /end HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n"
	for _, tc := range []struct{ desc, raw string }{
		{"plain", "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"CL and TE", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n0\r\n\r\nG"},
		{"duplicate equal CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		{"duplicate different CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"},
		{"comma-listed CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3, 3\r\n\r\nabc"},
		{"comma-listed different CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 3, 4\r\n\r\nabcd"},
		{"negative CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: -3\r\n\r\nabc"},
		{"plus-signed CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: +3\r\n\r\nabc"},
		{"hex CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0x3\r\n\r\nabc"},
		{"overflowing CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 99999999999999999999999\r\n\r\nabc"},
		{"empty CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length:\r\n\r\n"},
		{"CL with inner space", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1 2\r\n\r\nabcdefghijkl"},
		{"leading zeros CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0003\r\n\r\nabc"},
		{"TE gzip", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip\r\n\r\n"},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"TE chunked, identity", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"},
		{"TE xchunked", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
		{"TE twice", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"TE with space before colon", "POST / HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\r\n  folded\r\n\r\n"},
		{"obs-fold on CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length:\r\n 3\r\n\r\nabc"},
		{"bare LF lines", "GET / HTTP/1.1\nHost: a.test\n\n"},
		{"bare LF in one field", "GET / HTTP/1.1\r\nHost: a.test\nX-A: 1\r\n\r\n"},
		{"bare CR in a value", "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\rContent-Length: 3\r\n\r\nabc"},
		{"NUL in a value", "GET / HTTP/1.1\r\nHost: a.test\r\nX-A: 1\x002\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a.test\r\nX-A : 1\r\n\r\n"},
		{"space before colon of CL", "POST / HTTP/1.1\r\nHost: a.test\r\nContent-Length : 3\r\n\r\nabc"},
		{"tab in name", "GET / HTTP/1.1\r\nHost: a.test\r\nX\tA: 1\r\n\r\n"},
		{"no colon", "GET / HTTP/1.1\r\nHost: a.test\r\nX-A 1\r\n\r\n"},
		{"empty name", "GET / HTTP/1.1\r\nHost: a.test\r\n: 1\r\n\r\n"},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"tab in target", "GET /a\tb HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"double space after method", "GET  / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"fragment in target", "GET /a#b HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"absolute-form target", "GET http://a.test/x HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"bad percent escape", "GET /%zz HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: a.test\r\n\r\n"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n"},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n"},
		{"Host with a path", "GET / HTTP/1.1\r\nHost: a.test/x\r\n\r\n"},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: u@a.test\r\n\r\n"},
		{"lower-case version", "GET / http/1.1\r\nHost: a.test\r\n\r\n"},
		{"HTTP/1.2", "GET / HTTP/1.2\r\nHost: a.test\r\n\r\n"},
		{"HTTP/2.0 line", "GET / HTTP/2.0\r\nHost: a.test\r\n\r\n"},
		{"bad method char", "G(T / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a.test\r\n\r\n"},
		{"CONNECT", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n"},
		{"head over MaxHeaderBytes", "GET / HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 40<<10) + "\r\n\r\n"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			raw := tc.raw + end
			want := statusesUntilClose(t, ref, raw)
			got := statusesUntilClose(t, gw, raw)
			if len(want) == 0 {
				t.Fatal("net/http answered nothing: the case tests nothing")
			}
			t.Logf("net/http %v, gateway %v", want, got)
			// The gateway answers 431 for what net/http lets through up
			// to its own slack, and 404/405 for what it cannot route.
			if !sameOutcome(got, want) {
				t.Errorf("gateway answered %v, net/http %v", got, want)
			}
		})
	}
}

// sameOutcome: the same number of responses, each accepted (2xx/3xx or
// the gateway's own refusals of a request net/http let through: 404 for a
// target it cannot route, 405 CONNECT, 431) or rejected alike.
func sameOutcome(got, want []int) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] == want[i] {
			continue
		}
		if want[i] < 400 && (got[i] == http.StatusNotFound || got[i] == http.StatusMethodNotAllowed ||
			got[i] == http.StatusRequestHeaderFieldsTooLarge) {
			continue
		}
		return false
	}
	return true
}

// TestOwnServerSlowHead: a request head that trickles in a byte at a
// time must be cut off by the header timeout, not held open.
func TestOwnServerSlowHead(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s header timeout")
	}
	t.Parallel()
	g := newTestGateway(t, Options{})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", backend(t, "x", nil)))
	c, _ := rawConn(t, front(t, g))
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	head := "GET / HTTP/1.1\r\nHost: a.test\r\nX-Slow: " + strings.Repeat("a", 200)
	start := time.Now()
	var err error
	for i := 0; i < len(head) && err == nil; i++ {
		_, err = c.Write([]byte{head[i]})
		time.Sleep(100 * time.Millisecond)
	}
	if err == nil {
		// The write side may not see the close yet: the read side does.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = c.Read(make([]byte, 1))
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
		t.Fatalf("connection still open after %v: %v", time.Since(start), err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("closed after %v, want about 10 s", d)
	}
}

// scriptedBackend answers each request with the bytes script returns for
// its path, keeping connections open, so tests control framing exactly.
func scriptedBackend(t *testing.T, script func(path string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, script(req.URL.Path)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// TestOwnServerBackendFraming: whatever framing an instance's response
// has, the client connection stays in step, and bytes an instance sends
// beyond its response never reach another request.
func TestOwnServerBackendFraming(t *testing.T) {
	t.Parallel()
	be := scriptedBackend(t, func(path string) string {
		switch path {
		case "/clte":
			return "HTTP/1.1 200 OK\r\nContent-Length: 50\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		case "/204body":
			// A body on a 204, shaped as a whole second response.
			return "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled"
		case "/304body":
			return "HTTP/1.1 304 Not Modified\r\nContent-Length: 8\r\n\r\nsmuggled"
		case "/cr":
			return "HTTP/1.1 200 OK\r\nX-A: 1\rSet-Cookie: evil=1\r\nContent-Length: 2\r\n\r\nok"
		case "/tegzip":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		case "/texchunked":
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
		case "/nul":
			return "HTTP/1.1 200 OK\r\nX-A: 1\x002\r\nContent-Length: 2\r\n\r\nok"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nmine"
	})
	g := newTestGateway(t, Options{})
	// An instance that sends no length ends its body by closing.
	noLength := rawBackend(t, "HTTP/1.1 200 OK\r\n\r\nuntil close", true)
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", be), simpleRoute("app/1", "a.test", "/nolength", noLength))
	base := front(t, g)

	for _, tc := range []struct {
		desc, path string
		code       int
		body       string
	}{
		{"CL and TE: chunked wins", "/clte", 200, "abc"},
		{"no length on a kept connection", "/nolength", 200, "until close"},
		{"204 with a body", "/204body", 204, ""},
		{"304 with a body", "/304body", 304, ""},
		{"bare CR in a field value", "/cr", 502, ""},
		{"NUL in a field value", "/nul", 502, ""},
		// net/http's client refuses codings other than chunked: passed
		// on dechunked without its Transfer-Encoding, a gzip body would
		// reach the client as if it were plain.
		{"TE gzip, chunked", "/tegzip", 502, ""},
		{"TE xchunked", "/texchunked", 502, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, br := rawConn(t, base)
			_, _ = io.WriteString(c, "GET "+tc.path+" HTTP/1.1\r\nHost: a.test\r\n\r\nGET /next HTTP/1.1\r\nHost: a.test\r\n\r\n")
			res, body := readResp(t, br, "GET")
			if res.StatusCode != tc.code || (tc.code < 300 && body != tc.body) {
				t.Fatalf("first: %d %q, want %d %q", res.StatusCode, body, tc.code, tc.body)
			}
			if len(res.Header["Set-Cookie"]) > 0 {
				t.Errorf("a field forged from a bare CR reached the client: %q", res.Header)
			}
			if tc.path == "/nolength" && res.Header.Get("Content-Length") == "" && len(res.TransferEncoding) == 0 {
				t.Error("a response without length on a kept connection")
			}
			res, body = readResp(t, br, "GET")
			if res.StatusCode != 200 || body != "mine" {
				t.Fatalf("next on the same client connection: %d %q", res.StatusCode, body)
			}
			// Other clients reuse the instance connection the first
			// response came on: they must get their own response.
			for range 3 {
				r := do(t, "GET", base, "a.test", "/other", nil, nil)
				if r.code != 200 || r.body != "mine" {
					t.Fatalf("another request got %d %q", r.code, r.body)
				}
			}
		})
	}
}

// TestOwnServerHandlerOverrun: a policy handler that writes more than
// the Content-Length it declared must not put the excess on the wire,
// where the client would read it as the next response.
func TestOwnServerHandlerOverrun(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{
		Middlewares: func(_ context.Context, r Route, next http.Handler) (http.Handler, error) {
			if r.Policy.RateLimit == nil {
				return next, nil
			}
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path != "/overrun" {
					next.ServeHTTP(w, req)
					return
				}
				w.Header().Set("Content-Length", "5")
				_, _ = io.WriteString(w, "xxxxx")
				_, err := io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfake"+strings.Repeat(" ", 5000))
				if !errors.Is(err, http.ErrContentLength) {
					t.Errorf("writing past Content-Length: %v, want http.ErrContentLength", err)
				}
			}), nil
		},
	})
	rt := simpleRoute("app/0", "a.test", "/", backend(t, "real", nil))
	rt.Policy.RateLimit = &RateLimitPolicy{Rate: 1000, Burst: 1000}
	mustLoad(t, g, rt)
	c, br := rawConn(t, front(t, g))
	_, _ = io.WriteString(c, "GET /overrun HTTP/1.1\r\nHost: a.test\r\n\r\nGET /next HTTP/1.1\r\nHost: a.test\r\n\r\n")
	res, body := readResp(t, br, "GET")
	if res.StatusCode != 200 || body != "xxxxx" {
		t.Fatalf("first: %d %q", res.StatusCode, body)
	}
	res2, err := http.ReadResponse(br, nil)
	if err == nil {
		b, _ := io.ReadAll(res2.Body)
		if string(b) != "real a.test /next" {
			t.Fatalf("second response on the connection is %d %q: the overrun was read as a response", res2.StatusCode, b)
		}
	}
}

// TestOwnServerHeadAfterSlowResponse: a request head that starts arriving
// while a slow response is in progress gets the full header timeout, not
// the remains of the previous request's (long passed) deadline.
func TestOwnServerHeadAfterSlowResponse(t *testing.T) {
	if testing.Short() {
		t.Skip("outwaits the 10 s header timeout")
	}
	t.Parallel()
	slow := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(h1ReadHeaderTimeout + 500*time.Millisecond)
		}
		_, _ = io.WriteString(w, r.URL.Path)
	})
	g := newTestGateway(t, Options{})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", slow))
	c, br := rawConn(t, front(t, g))
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	// The first head in two parts, so its header deadline is armed.
	_, _ = io.WriteString(c, "GET /slow HTTP/1.1\r\n")
	time.Sleep(50 * time.Millisecond)
	_, _ = io.WriteString(c, "Host: a.test\r\n\r\nGET /next HTTP/1.1\r\n") // and half the next
	res, body := readResp(t, br, "GET")
	if res.StatusCode != 200 || body != "/slow" {
		t.Fatalf("first: %d %q", res.StatusCode, body)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := io.WriteString(c, "Host: a.test\r\n\r\n"); err != nil {
		t.Fatalf("finishing the second head: %v", err)
	}
	res, body = readResp(t, br, "GET")
	if res.StatusCode != 200 || body != "/next" {
		t.Fatalf("second: %d %q", res.StatusCode, body)
	}
}

// fdLimitListener is a loopback listener whose first Accepts fail as
// they do when the process is out of file descriptors.
type fdLimitListener struct {
	net.Listener
	fails atomic.Int32
}

func (l *fdLimitListener) Accept() (net.Conn, error) {
	if l.fails.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
	return l.Listener.Accept()
}

// TestOwnServerSurvivesEMFILE: running out of file descriptors (a flood
// of connections can cause it) must not end the accept loop for good, as
// net/http's Serve does not.
func TestOwnServerSurvivesEMFILE(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", backend(t, "up", nil)))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fl := &fdLimitListener{Listener: inner}
	fl.fails.Store(3)
	ln := g.Listener(fl)
	srv := g.NewServer()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	c, br := rawConn(t, "http://"+ln.Addr().String())
	_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	res, body := readResp(t, br, "GET")
	if res.StatusCode != 200 || body != "up a.test /" {
		t.Fatalf("after EMFILE: %d %q", res.StatusCode, body)
	}
}

// TestOwnServerUnsentBodyTimesOut: a client that announces a body the
// gateway answers without reading (no route here), then sends nothing,
// must not hold the connection for ever while the gateway waits to skip
// the body.
func TestOwnServerUnsentBodyTimesOut(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the 10 s timeout")
	}
	t.Parallel()
	g := newTestGateway(t, Options{})
	c, br := rawConn(t, front(t, g))
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	start := time.Now()
	_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: nowhere.test\r\nContent-Length: 1000\r\n\r\n")
	res, _ := readResp(t, br, "POST")
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d, want 404", res.StatusCode)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("connection still open after %v: %v", time.Since(start), err)
	}
}
