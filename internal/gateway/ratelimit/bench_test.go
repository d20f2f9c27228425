package ratelimit

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/berthdev/berth/internal/gateway"
)

// The hot path: one client under its limit (the common case).
func BenchmarkAllowed(b *testing.B) {
	for _, bc := range []struct {
		desc   string
		cfg    gateway.RateLimitPolicy
		header string
	}{
		{"ip", gateway.RateLimitPolicy{Rate: 1e12, Burst: 100}, ""},
		{"header", gateway.RateLimitPolicy{Rate: 1e12, Burst: 100, Key: "header:X-Api-Key"}, "key-0123456789abcdef"},
	} {
		b.Run(bc.desc, func(b *testing.B) {
			h, err := New(b.Context(), ok, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			r := req("192.0.2.1:5000")
			if bc.header != "" {
				r.Header.Set("X-Api-Key", bc.header)
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
		b.Run(bc.desc+"/parallel-1k-clients", func(b *testing.B) {
			h, err := New(b.Context(), ok, bc.cfg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				reqs := make([]*http.Request, 1000)
				for i := range reqs {
					reqs[i] = req("192.0."+strconv.Itoa(i/250)+"."+strconv.Itoa(i%250)+":1", "X-Api-Key", "key-"+strconv.Itoa(i))
				}
				w := &discardWriter{h: http.Header{}}
				i := 0
				for pb.Next() {
					h.ServeHTTP(w, reqs[i%len(reqs)])
					i++
				}
			})
		})
	}
}

// A client over its limit.
func BenchmarkRefused(b *testing.B) {
	h, err := New(b.Context(), ok, gateway.RateLimitPolicy{Rate: 0.001, Burst: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := req("192.0.2.1:5000")
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}
