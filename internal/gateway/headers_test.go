package gateway

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// echoHeaders answers with the request header it got, as JSON.
func echoHeaders(w http.ResponseWriter, r *http.Request) {
	h := r.Header.Clone()
	h.Set("Host", r.Host)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(h)
}

func TestForwardedHeaders(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("h/0", "shop.localhost", "/", backend(t, "", echoHeaders)))
	idRE := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		desc  string
		send  http.Header
		check func(t *testing.T, got http.Header, res resp)
	}{
		{desc: "forwarding headers set", check: func(t *testing.T, got http.Header, _ resp) {
			if got.Get("X-Forwarded-For") != "127.0.0.1" || got.Get("X-Forwarded-Host") != "shop.localhost" ||
				got.Get("X-Forwarded-Proto") != "http" || got.Get("Host") != "shop.localhost" {
				t.Fatalf("got %v", got)
			}
		}},
		{desc: "spoofed X-Forwarded-For is appended to, not trusted", send: http.Header{"X-Forwarded-For": {"6.6.6.6"}},
			check: func(t *testing.T, got http.Header, _ resp) {
				if v := got.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "6.6.6.6, 127.0.0.1" {
					t.Fatalf("X-Forwarded-For %q", v)
				}
			}},
		{desc: "several X-Forwarded-For lines join", send: http.Header{"X-Forwarded-For": {"1.1.1.1", "2.2.2.2"}},
			check: func(t *testing.T, got http.Header, _ resp) {
				if v := got.Get("X-Forwarded-For"); v != "1.1.1.1, 2.2.2.2, 127.0.0.1" {
					t.Fatalf("X-Forwarded-For %q", v)
				}
			}},
		{desc: "spoofed proto and host are replaced", send: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.com"}},
			check: func(t *testing.T, got http.Header, _ resp) {
				if v := got.Values("X-Forwarded-Proto"); len(v) != 1 || v[0] != "http" {
					t.Fatalf("X-Forwarded-Proto %q", v)
				}
				if v := got.Values("X-Forwarded-Host"); len(v) != 1 || v[0] != "shop.localhost" {
					t.Fatalf("X-Forwarded-Host %q", v)
				}
			}},
		{desc: "request id generated", check: func(t *testing.T, got http.Header, res resp) {
			id := got.Get("X-Request-Id")
			if !idRE.MatchString(id) || res.header.Get("X-Request-Id") != id {
				t.Fatalf("instance got id %q, client got %q", id, res.header.Get("X-Request-Id"))
			}
		}},
		{desc: "request id passed on", send: http.Header{"X-Request-Id": {"abc-123"}},
			check: func(t *testing.T, got http.Header, res resp) {
				if got.Get("X-Request-Id") != "abc-123" || res.header.Get("X-Request-Id") != "abc-123" {
					t.Fatalf("instance got %q, client got %q", got.Get("X-Request-Id"), res.header.Get("X-Request-Id"))
				}
			}},
		{desc: "traceparent untouched", send: http.Header{"Traceparent": {"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, "Tracestate": {"berth=1"}},
			check: func(t *testing.T, got http.Header, _ resp) {
				if got.Get("Traceparent") != "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" || got.Get("Tracestate") != "berth=1" {
					t.Fatalf("got %v", got)
				}
			}},
		{desc: "hop-by-hop removed", send: http.Header{
			"Connection": {"keep-alive, X-Secret"}, "X-Secret": {"1"}, "Keep-Alive": {"timeout=5"},
			"Proxy-Authorization": {"Basic eA=="}, "Te": {"trailers, deflate"}, "X-Kept": {"yes"},
		}, check: func(t *testing.T, got http.Header, _ resp) {
			for _, k := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Authorization"} {
				if v, ok := got[k]; ok {
					t.Errorf("%s forwarded: %q", k, v)
				}
			}
			if got.Get("Te") != "trailers" || got.Get("X-Kept") != "yes" {
				t.Errorf("Te %q, X-Kept %q", got.Get("Te"), got.Get("X-Kept"))
			}
		}},
		{desc: "multiple values kept in order", send: http.Header{"Accept": {"a/b", "c/d"}},
			check: func(t *testing.T, got http.Header, _ resp) {
				if v := got.Values("Accept"); len(v) != 2 || v[0] != "a/b" || v[1] != "c/d" {
					t.Fatalf("Accept %q", v)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			res := do(t, "GET", base, "shop.localhost", "/", tt.send, nil)
			var got http.Header
			if err := json.Unmarshal([]byte(res.body), &got); err != nil {
				t.Fatalf("%d %q: %v", res.code, res.body, err)
			}
			tt.check(t, got, res)
		})
	}
}

// rawBackend answers every request on a connection with response, as
// bytes, so tests control framing and headers exactly; closeAfter closes
// the connection after the first response.
func rawBackend(t *testing.T, response string, closeAfter bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
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
					if _, err := io.WriteString(c, response); err != nil || closeAfter {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	hop := rawBackend(t, "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: 1\r\nKeep-Alive: timeout=5\r\n"+
		"content-type: text/plain\r\nx-custom-thing: v\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nContent-Length: 2\r\n\r\nok", false)
	trailers := rawBackend(t, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n"+
		"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n", false)
	http10 := rawBackend(t, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close", true)
	mustLoad(t, g,
		simpleRoute("r/0", "hop.localhost", "/", hop),
		simpleRoute("r/1", "trailers.localhost", "/", trailers),
		simpleRoute("r/2", "old.localhost", "/", http10))

	t.Run("hop-by-hop removed, names canonical, repeats kept", func(t *testing.T) {
		t.Parallel()
		for range 3 { // over one kept-alive connection
			res := do(t, "GET", base, "hop.localhost", "/", nil, nil)
			if res.body != "ok" || res.header.Get("X-Internal") != "" || res.header.Get("Keep-Alive") != "" ||
				res.header.Get("Content-Type") != "text/plain" || res.header.Get("X-Custom-Thing") != "v" ||
				len(res.header.Values("Set-Cookie")) != 2 {
				t.Fatalf("%q %v", res.body, res.header)
			}
		}
	})
	t.Run("chunked with trailers", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = "trailers.localhost"
		res, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if string(b) != "abcde" || res.Trailer.Get("X-Checksum") != "42" {
			t.Fatalf("body %q trailer %v", b, res.Trailer)
		}
	})
	t.Run("HTTP/1.0 body until close", func(t *testing.T) {
		t.Parallel()
		for range 2 {
			if res := do(t, "GET", base, "old.localhost", "/", nil, nil); res.body != "until close" {
				t.Fatalf("%d %q", res.code, res.body)
			}
		}
	})
}

func TestBrokenInstanceResponses(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	garbage := rawBackend(t, "SSH-2.0-OpenSSH\r\n\r\n", true)
	short := rawBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true)
	mustLoad(t, g, simpleRoute("b/0", "garbage.localhost", "/", garbage), simpleRoute("b/1", "short.localhost", "/", short))
	if res := do(t, "GET", base, "garbage.localhost", "/", nil, nil); res.code != 502 || !strings.Contains(res.body, "bad_response") {
		t.Fatalf("garbage: %d %q", res.code, res.body)
	}
	// A body cut short must reach the client as an error, not as a
	// complete-looking response.
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "short.localhost"
	res, err := testClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Fatal("a truncated body reached the client without an error")
	}
}

// TestBodilessResponses: HEAD, 204 and 304 carry no body whatever their
// header says, and the connection to the instance stays usable.
func TestBodilessResponses(t *testing.T) {
	t.Parallel()
	var conns atomic.Int64
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(http.StatusNoContent)
		case "/304":
			w.Header().Set("Etag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	g := newTestGateway(t, Options{})
	base := front(t, g)
	mustLoad(t, g, simpleRoute("nb/0", "nb.localhost", "/", strings.TrimPrefix(s.URL, "http://")))
	for _, tc := range []struct {
		method, path string
		code         int
		body, length string
	}{
		{"HEAD", "/", 200, "", "5"},
		{"GET", "/204", 204, "", ""},
		{"GET", "/304", 304, "", ""},
		{"GET", "/", 200, "hello", "5"},
		{"HEAD", "/", 200, "", "5"},
		{"GET", "/", 200, "hello", "5"},
	} {
		res := do(t, tc.method, base, "nb.localhost", tc.path, nil, nil)
		if res.code != tc.code || res.body != tc.body || res.header.Get("Content-Length") != tc.length {
			t.Fatalf("%s %s: %d %q Content-Length %q", tc.method, tc.path, res.code, res.body, res.header.Get("Content-Length"))
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections to the instance for 6 sequential requests, want 1", n)
	}
}
