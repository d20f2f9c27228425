package breaker

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
)

// discardWriter is a ResponseWriter that costs nothing, so the benchmarks
// measure the breaker rather than httptest.ResponseRecorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

var ok = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

// The closed state: what every request pays while the backend is healthy.
func BenchmarkClosed(b *testing.B) {
	for _, bc := range []struct {
		desc string
		cfg  gateway.BreakerPolicy
	}{
		{"ratio", gateway.BreakerPolicy{ErrorRatio: 0.5, ConsecutiveFailures: 5}},
		{"ratio+latency", gateway.BreakerPolicy{ErrorRatio: 0.5, LatencyQuantile: 0.99, LatencyThreshold: time.Second}},
	} {
		b.Run(bc.desc, func(b *testing.B) {
			h, err := New(b.Context(), ok, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, req)
			}
		})
		b.Run(bc.desc+"/parallel", func(b *testing.B) {
			h, err := New(b.Context(), ok, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}

// The open state: how fast a request is turned away.
func BenchmarkOpen(b *testing.B) {
	fail := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	h, err := New(b.Context(), fail, gateway.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	h.ServeHTTP(&discardWriter{h: http.Header{}}, req)
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, req)
	}
}
