package gateway

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// testCounter sums the samples of a counter or histogram count in g's
// metrics whose labels include want.
func testCounter(t *testing.T, g *Gateway, name string, want map[string]string) float64 {
	t.Helper()
	mfs, err := g.metrics.gatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue metrics
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{})
	base := front(t, g)
	ok, _ := counted(t, "ok", 200, 0)
	broken, _ := counted(t, "broken", 503, 0)
	mustLoad(t, g,
		simpleRoute("m/0", "ok.localhost", "/", ok),
		retryRoute("m1", &RetryPolicy{Attempts: 2}, broken))
	for range 3 {
		do(t, "GET", base, "ok.localhost", "/", nil, nil)
	}
	do(t, "GET", base, "m1.localhost", "/", nil, nil)
	do(t, "GET", base, "nowhere.localhost", "/", nil, nil)

	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"berth_gateway_requests_total", map[string]string{"route": "m/0", "app": "app", "track": "stable", "backend": ok, "code": "2xx"}, 3},
		{"berth_gateway_request_duration_seconds", map[string]string{"route": "m/0", "backend": ok}, 3},
		{"berth_gateway_requests_total", map[string]string{"route": "m1", "code": "5xx"}, 1},
		{"berth_gateway_retries_total", map[string]string{"route": "m1"}, 1},
		{"berth_gateway_no_route_total", nil, 1},
	}
	for _, c := range checks {
		if got := testCounter(t, g, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	rec := httptest.NewRecorder()
	g.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `berth_gateway_requests_total{app="app",backend="`+ok+`",code="2xx",route="m/0",track="stable"} 3`) {
		t.Errorf("/metrics lacks the request counter:\n%s", rec.Body.String())
	}

	// Series of instances that left the table are dropped.
	mustLoad(t, g, simpleRoute("m/0", "ok.localhost", "/", broken))
	if got := testCounter(t, g, "berth_gateway_requests_total", map[string]string{"backend": ok}); got != 0 {
		t.Errorf("series of a removed instance still exported: %v", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAccessLog(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	g := newTestGateway(t, Options{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil))})
	base := front(t, g)
	addr := backend(t, "web", nil)
	r := canaryRoute("log/0", addr, "", 0)
	r.App = "shop"
	mustLoad(t, g, r)
	res := do(t, "GET", base, "shop.localhost", "/a/b", map[string][]string{"X-Request-Id": {"req-42"}}, nil)
	if res.header.Get("X-Request-Id") != "req-42" {
		t.Fatalf("response X-Request-Id %q", res.header.Get("X-Request-Id"))
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(buf.String())), &line); err != nil {
		t.Fatalf("access log %q: %v", buf.String(), err)
	}
	want := map[string]any{
		"msg": "access", "route": "log/0", "app": "shop", "track": "stable", "release": 1.0,
		"endpoint": addr, "status": 200.0, "bytes": float64(len(res.body)), "request_id": "req-42",
		"method": "GET", "path": "/a/b", "host": "shop.localhost",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v", k, line[k], v)
		}
	}
	if _, ok := line["duration_ms"].(float64); !ok {
		t.Errorf("access log lacks duration_ms: %v", line)
	}
}

func TestAccessLogSampling(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	g := newTestGateway(t, Options{AccessLog: slog.New(slog.NewJSONHandler(&buf, nil)), AccessLogSample: 0.1})
	base := front(t, g)
	ok, _ := counted(t, "ok", 200, 0)
	bad, _ := counted(t, "bad", 500, 0)
	mustLoad(t, g, simpleRoute("s/0", "ok.localhost", "/", ok), simpleRoute("s/1", "bad.localhost", "/", bad))
	for range 200 {
		do(t, "GET", base, "ok.localhost", "/", nil, nil)
	}
	for range 5 {
		do(t, "GET", base, "bad.localhost", "/", nil, nil)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	errs := 0
	for _, l := range lines {
		if strings.Contains(l, `"status":500`) {
			errs++
		}
	}
	if errs != 5 || len(lines)-errs < 5 || len(lines)-errs > 50 {
		t.Fatalf("%d lines, %d of them 5xx; want all 5 errors and about 20 of 200 others", len(lines), errs)
	}
	_ = io.Discard
}
