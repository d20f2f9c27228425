package gateway

import (
	"bufio"
	"bytes"
	"net"
	"testing"
)

// fixedBackend answers every request on a connection with the same fixed
// 100-byte response, without net/http, so a benchmark's allocations and
// CPU are the gateway's own.
func fixedBackend(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	body := bytes.Repeat([]byte("x"), 100)
	resp := append([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n"), body...)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveRaw(c, resp)
		}
	}()
	return ln.Addr().String()
}

// serveRaw answers each request head (bodiless requests only) with resp.
func serveRaw(c net.Conn, resp []byte) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 16<<10)
	for {
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				return
			}
			if len(line) <= 2 {
				break
			}
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

// BenchmarkHotPath proxies bodiless GETs from raw clients to a raw
// backend: allocs/op are the gateway's per request (the clients and the
// backend allocate nothing per request).
func BenchmarkHotPath(b *testing.B) {
	be := fixedBackend(b)
	g := newTestGateway(b, Options{})
	mustLoad(b, g, simpleRoute("bench/0", "bench.localhost", "/", be))
	addr := front(b, g)
	benchRequests(b, addr[len("http://"):], 64)
}
