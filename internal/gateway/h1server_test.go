package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawConn dials the gateway at base.
func rawConn(t *testing.T, base string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

func readResp(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	_ = res.Body.Close()
	return res, string(b)
}

// echoBackend answers with the method, path, body and a few request
// fields it saw, so tests can tell what the gateway forwarded.
func echoBackend(t *testing.T) string {
	return backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Length", strconv.FormatInt(r.ContentLength, 10))
		w.Header().Set("X-Seen-Te", strings.Join(r.TransferEncoding, ","))
		_, _ = io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(b))
	})
}

// TestOwnServerHTTP11 covers what the gateway's own server does itself
// and what it hands to net/http, over raw connections.
func TestOwnServerHTTP11(t *testing.T) {
	be := echoBackend(t)
	g := newTestGateway(t, Options{MaxHeaderBytes: 16 << 10})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", be))
	base := front(t, g)

	for _, tc := range []struct {
		desc    string
		reqs    string // sent at once (pipelined when several)
		methods []string
		want    []string // body of each response
		codes   []int
		check   func(t *testing.T, res *http.Response)
	}{
		{desc: "pipelined GETs on one connection",
			reqs:    "GET /one HTTP/1.1\r\nHost: a.test\r\n\r\nGET /two?x=1 HTTP/1.1\r\nhost: a.test\r\n\r\n",
			methods: []string{"GET", "GET"}, codes: []int{200, 200},
			want: []string{"GET /one ", "GET /two?x=1 "}},
		{desc: "POST with a length is served by the gateway",
			reqs:    "POST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 5\r\n\r\nhelloGET /after HTTP/1.1\r\nHost: a.test\r\n\r\n",
			methods: []string{"POST", "GET"}, codes: []int{200, 200},
			want: []string{"POST /p hello", "GET /after "}},
		{desc: "chunked request body goes to net/http",
			reqs:    "POST /c HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			methods: []string{"POST"}, codes: []int{200}, want: []string{"POST /c abc"}},
		{desc: "Expect: 100-continue goes to net/http",
			reqs:    "PUT /e HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok",
			methods: []string{"PUT", "PUT"}, codes: []int{100, 200}, want: []string{"", "PUT /e ok"}},
		{desc: "HTTP/1.0 goes to net/http",
			reqs:    "GET /old HTTP/1.0\r\nHost: a.test\r\n\r\n",
			methods: []string{"GET"}, codes: []int{200}, want: []string{"GET /old "}},
		{desc: "escaped path",
			reqs:    "GET /a%20b/%2F HTTP/1.1\r\nHost: a.test\r\n\r\n",
			methods: []string{"GET"}, codes: []int{200}, want: []string{"GET /a%20b/%2F "}},
		{desc: "HEAD has no body",
			reqs:    "HEAD /h HTTP/1.1\r\nHost: a.test\r\n\r\nGET /g HTTP/1.1\r\nHost: a.test\r\n\r\n",
			methods: []string{"HEAD", "GET"}, codes: []int{200, 200}, want: []string{"", "GET /g "}},
		{desc: "no Host: 400 from net/http",
			reqs:    "GET / HTTP/1.1\r\n\r\n",
			methods: []string{"GET"}, codes: []int{400}, want: nil},
		{desc: "unknown host: the gateway's 404, then the connection goes on",
			reqs:    "GET /x HTTP/1.1\r\nHost: b.test\r\n\r\nGET /y HTTP/1.1\r\nHost: a.test\r\n\r\n",
			methods: []string{"GET", "GET"}, codes: []int{404, 200},
			want: []string{"berth gateway: no route for b.test/x\n", "GET /y "}},
		{desc: "a head larger than the gateway's buffer: net/http, then 431 from the gateway",
			reqs:    "GET /big HTTP/1.1\r\nHost: a.test\r\nX-Big: " + strings.Repeat("b", 20<<10) + "\r\n\r\n",
			methods: []string{"GET"}, codes: []int{431}, want: nil},
		{desc: "an unread body is skipped, never read as a request",
			reqs:    "POST /x HTTP/1.1\r\nHost: b.test\r\nContent-Length: 34\r\n\r\nGET /no HTTP/1.1\r\nHost: a.test\r\n\r\nGET /yes HTTP/1.1\r\nHost: a.test\r\n\r\n",
			methods: []string{"POST", "GET"}, codes: []int{404, 200},
			want: []string{"berth gateway: no route for b.test/x\n", "GET /yes "}},
		{desc: "Content-Length with Transfer-Encoding: net/http decides (chunked wins)",
			reqs:    "POST /s HTTP/1.1\r\nHost: a.test\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
			methods: []string{"POST"}, codes: []int{200}, want: []string{"POST /s abc"}},
		{desc: "two different Content-Lengths: 400 from net/http",
			reqs:    "POST /s HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			methods: []string{"POST"}, codes: []int{400}, want: nil},
		{desc: "two Hosts: 400 from net/http",
			reqs:    "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
			methods: []string{"GET"}, codes: []int{400}, want: nil},
		{desc: "Connection: close is honoured",
			reqs:    "GET /close HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n",
			methods: []string{"GET"}, codes: []int{200}, want: []string{"GET /close "},
			check: func(t *testing.T, res *http.Response) {
				if !res.Close {
					t.Error("response does not say Connection: close")
				}
			}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, br := rawConn(t, base)
			if _, err := io.WriteString(c, tc.reqs); err != nil {
				t.Fatal(err)
			}
			for i, m := range tc.methods {
				res, body := readResp(t, br, m)
				if res.StatusCode != tc.codes[i] {
					t.Fatalf("response %d: status %d, want %d (body %q)", i, res.StatusCode, tc.codes[i], body)
				}
				if tc.want != nil && body != tc.want[i] {
					t.Errorf("response %d: body %q, want %q", i, body, tc.want[i])
				}
				if res.StatusCode == 200 && res.Header.Get("Date") == "" {
					t.Errorf("response %d: no Date", i)
				}
				if tc.check != nil {
					tc.check(t, res)
				}
			}
		})
	}
}

// TestOwnServerCloseDrains: closing the listener closes idle connections
// at once, and lets a request in flight finish first.
func TestOwnServerCloseDrains(t *testing.T) {
	release := make(chan struct{})
	be := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = io.WriteString(w, "done")
	})
	g := newTestGateway(t, Options{})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", be))
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := g.Listener(inner)
	srv := g.NewServer()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + ln.Addr().String()

	idle, idleBR := rawConn(t, base)
	_, _ = io.WriteString(idle, "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
	readResp(t, idleBR, "GET")
	busy, busyBR := rawConn(t, base)
	_, _ = io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(100 * time.Millisecond) // the request reaches the backend

	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("idle connection still open after Close")
	}
	drainer := ln.(interface{ Drain(context.Context) error })
	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := drainer.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain with a request in flight: %v, want the deadline", err)
	}
	close(release)
	if err := drainer.Drain(t.Context()); err != nil {
		t.Errorf("Drain: %v", err)
	}
	res, body := readResp(t, busyBR, "GET")
	if res.StatusCode != 200 || body != "done" {
		t.Errorf("request in flight: %d %q", res.StatusCode, body)
	}
	if _, err := busyBR.ReadByte(); err == nil {
		t.Error("busy connection still open after its response")
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepts")
	}
}

// TestOwnServerClientGone: a client that leaves while the instance takes
// its time is noticed (within the waiter's watch interval), the request
// ends as 499 and the instance's connection is dropped.
func TestOwnServerClientGone(t *testing.T) {
	gone := make(chan struct{})
	be := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			close(gone)
		case <-time.After(10 * time.Second):
		}
	})
	g := newTestGateway(t, Options{})
	mustLoad(t, g, simpleRoute("app/0", "a.test", "/", be))
	base := front(t, g)
	c, _ := rawConn(t, base)
	_, _ = io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: a.test\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	_ = c.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Fatal("the instance's request was not cancelled after the client left")
	}
}

// TestHotPathAllocs pins the allocations of one proxied request through
// the gateway's own server (a policy middleware in the chain, as the
// embedded server always has): the request head's string and the
// request ID. Client and backend here allocate nothing per request.
func TestHotPathAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("measures allocations")
	}
	be := fixedBackend(t)
	for _, tc := range []struct {
		desc string
		mw   func(next http.Handler) http.Handler
		max  float64
	}{
		{desc: "no policy", max: 2},
		{desc: "pass-through policy middleware", max: 2, mw: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				r.Header.Del("X-Berth-Subject")
				next.ServeHTTP(w, r)
			})
		}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			opts := Options{}
			if tc.mw != nil {
				opts.Middlewares = func(_ context.Context, _ Route, next http.Handler) (http.Handler, error) {
					return tc.mw(next), nil
				}
			}
			g := newTestGateway(t, opts)
			mustLoad(t, g, simpleRoute("bench/0", "bench.localhost", "/", be))
			c, br := rawConn(t, front(t, g))
			req := []byte("GET /item HTTP/1.1\r\nHost: bench.localhost\r\nUser-Agent: t\r\n\r\n")
			one := func() {
				if _, err := c.Write(req); err != nil {
					t.Fatal(err)
				}
				if err := skipResponse(br); err != nil {
					t.Fatal(err)
				}
			}
			for range 100 {
				one() // warm pools and the connection to the instance
			}
			if n := testing.AllocsPerRun(500, one); n > tc.max {
				t.Errorf("%.1f allocations per request, want at most %v", n, tc.max)
			}
		})
	}
}

// skipResponse reads a response with a Content-Length without allocating.
func skipResponse(br *bufio.Reader) error {
	cl := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			n := 0
			for _, ch := range bytes.TrimSpace(line[15:]) {
				n = n*10 + int(ch-'0')
			}
			cl = n
		}
	}
	if cl < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(cl)
	return err
}
