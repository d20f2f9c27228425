package gateway

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// wrapWriter is what policy middleware typically does to the writer: it
// hides the server's optional interfaces behind Unwrap.
type wrapWriter struct {
	http.ResponseWriter
	status int
}

func (w *wrapWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *wrapWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// TestMiddlewarePath runs requests through a policy chain: one that
// answers by itself, and one that wraps the writer, through which
// streaming and upgrades must still work.
func TestMiddlewarePath(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	var sawAbort atomic.Bool
	g := newTestGateway(t, Options{
		AccessLog: slog.New(slog.NewJSONHandler(&buf, nil)),
		Middlewares: func(_ context.Context, r Route, next http.Handler) (http.Handler, error) {
			if r.Policy.RateLimit == nil {
				return next, nil // no policy: the gateway skips the chain
			}
			return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.Header.Get("X-Deny") != "" {
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return
				}
				defer func() {
					if v := recover(); v != nil {
						sawAbort.Store(v == http.ErrAbortHandler)
						panic(v)
					}
				}()
				next.ServeHTTP(&wrapWriter{ResponseWriter: w}, req)
			}), nil
		},
	})
	base := front(t, g)
	sse := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: hi\n\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	short := rawBackend(t, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this", true)
	withPolicy := func(r Route) Route { r.Policy.RateLimit = &RateLimitPolicy{Rate: 1, Burst: 1}; return r }
	mustLoad(t, g,
		withPolicy(simpleRoute("p/0", "ws.localhost", "/", backend(t, "", wsEcho))),
		withPolicy(simpleRoute("p/1", "sse.localhost", "/", sse)),
		withPolicy(simpleRoute("p/2", "short.localhost", "/", short)),
		simpleRoute("p/3", "plain.localhost", "/", backend(t, "plain", nil)))
	if rt := g.table.Load().routes[3]; rt.handler != nil {
		t.Fatal("a route whose middleware returned next unchanged still has a chain")
	}

	t.Run("middleware answers", func(t *testing.T) {
		res := do(t, "GET", base, "ws.localhost", "/", http.Header{"X-Deny": {"1"}}, nil)
		if res.code != 429 || !strings.Contains(buf.String(), `"status":429`) {
			t.Fatalf("%d; log %s", res.code, buf.String())
		}
		if got := testCounter(t, g, "berth_gateway_requests_total", map[string]string{"route": "p/0", "code": "4xx"}); got != 1 {
			t.Fatalf("4xx counter %v", got)
		}
	})
	t.Run("websocket through a wrapped writer", func(t *testing.T) {
		c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		key := base64.StdEncoding.EncodeToString([]byte("fedcba9876543210"))
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: ws.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n", key)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("handshake: %v %v", res, err)
		}
		_ = wsWrite(c, 1, []byte("ping"), true)
		if _, got, err := wsRead(br); err != nil || string(got) != "ping" {
			t.Fatalf("echo %q %v", got, err)
		}
	})
	t.Run("event stream through a wrapped writer", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = "sse.localhost"
		res, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		line, err := bufio.NewReader(res.Body).ReadString('\n')
		if err != nil || line != "data: hi\n" {
			t.Fatalf("%q %v", line, err)
		}
	})
	t.Run("aborted body is seen by the middleware", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/", nil)
		req.Host = "short.localhost"
		res, err := testClient.Do(req)
		if err == nil {
			_, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		if err == nil || !sawAbort.Load() {
			t.Fatalf("client error %v, middleware saw the abort: %v", err, sawAbort.Load())
		}
	})
}
