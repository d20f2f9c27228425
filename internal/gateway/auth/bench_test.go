package auth

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berthdev/berth/internal/gateway"
)

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

var noop = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

func benchServe(b *testing.B, h http.Handler, header, value string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set(header, value)
	w := &discardWriter{h: http.Header{}}
	h.ServeHTTP(w, req) // warm: keys fetched
	b.ReportAllocs()
	for b.Loop() {
		req.Header.Set(header, value) // ServeHTTP rewrites the identity headers, not this one
		h.ServeHTTP(w, req)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	h, err := New(b.Context(), noop, gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{sha("key-0123456789abcdef0123456789"): "ci"}}})
	if err != nil {
		b.Fatal(err)
	}
	benchServe(b, h, "X-API-Key", "key-0123456789abcdef0123456789")
}

func BenchmarkJWT(b *testing.B) {
	p := newProviderB(b)
	for _, k := range []signingKey{newRSAKey(b), newECKey(b)} {
		p.publish(k)
		b.Run(string(k.alg), func(b *testing.B) {
			h, err := New(b.Context(), noop, gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}})
			if err != nil {
				b.Fatal(err)
			}
			benchServe(b, h, "Authorization", "Bearer "+mint(b, k, p.good()))
		})
	}
}

// Every request a new verification (the cache off): the cost of the crypto.
func BenchmarkJWTUncached(b *testing.B) {
	p := newProviderB(b)
	for _, k := range []signingKey{newRSAKey(b), newECKey(b)} {
		p.publish(k)
		b.Run(string(k.alg), func(b *testing.B) {
			h, err := New(b.Context(), noop, gateway.AuthPolicy{JWT: &gateway.JWTAuth{Issuer: p.issuer, Audiences: []string{"shop"}}}, WithTokenCache(0))
			if err != nil {
				b.Fatal(err)
			}
			benchServe(b, h, "Authorization", "Bearer "+mint(b, k, p.good()))
		})
	}
}
