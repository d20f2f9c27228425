package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/gateway/breaker"
	"github.com/berthdev/berth/internal/gateway/ratelimit"
)

func digest(k string) string {
	s := sha256.Sum256([]byte(k))
	return hex.EncodeToString(s[:])
}

// A real backend behind a real proxy, wrapped as the gateway would.
func TestChainOverHTTP(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, r.Header.Get("X-Berth-Subject")+"|"+r.Header.Get("X-Berth-Auth"))
	}))
	defer backend.Close()
	u, _ := url.Parse(backend.URL)
	proxy := httputil.NewSingleHostReverseProxy(u)

	mw := Middlewares(Options{})
	var _ gateway.MiddlewareFunc = mw // the shape the gateway takes
	tests := []struct {
		desc   string
		policy gateway.Policy
		run    func(t *testing.T, do func(header ...string) (int, string))
	}{
		{
			desc:   "no auth: spoofed identity stripped",
			policy: gateway.Policy{},
			run: func(t *testing.T, do func(...string) (int, string)) {
				if code, body := do("X-Berth-Subject", "admin", "X-Berth-Auth", "jwt"); code != 200 || body != "|" {
					t.Errorf("got %d %q, want the service to see no identity", code, body)
				}
			},
		},
		{
			desc: "api key, rate limit by subject, breaker",
			policy: gateway.Policy{
				Auth:      &gateway.AuthPolicy{APIKeys: &gateway.APIKeys{Keys: map[string]string{digest("k1"): "ci", digest("k2"): "ops"}}},
				RateLimit: &gateway.RateLimitPolicy{Rate: 0.001, Burst: 2, Key: "jwt_sub"},
				Breaker:   &gateway.BreakerPolicy{ConsecutiveFailures: 1, OpenFor: time.Hour},
			},
			run: func(t *testing.T, do func(...string) (int, string)) {
				if code, _ := do(); code != 401 {
					t.Errorf("no key: %d, want 401", code)
				}
				if code, body := do("X-API-Key", "k1", "X-Berth-Subject", "admin"); code != 200 || body != "ci|api_key" {
					t.Errorf("k1: %d %q, want ci|api_key", code, body)
				}
				if code, _ := do("X-API-Key", "k1"); code != 200 {
					t.Errorf("k1 again: %d", code)
				}
				if code, _ := do("X-API-Key", "k1"); code != 429 {
					t.Errorf("k1 over its limit: %d, want 429", code)
				}
				failing.Store(true)
				defer failing.Store(false)
				if code, _ := do("X-API-Key", "k2"); code != 500 {
					t.Errorf("k2 with a failing backend: %d, want 500", code)
				}
				if code, body := do("X-API-Key", "k2"); code != 503 || !strings.Contains(body, "circuit open for route shop/1") {
					t.Errorf("open circuit: %d %q", code, body)
				}
				if code, _ := do("X-API-Key", "k1"); code != 429 {
					t.Errorf("a limited client is refused before the breaker: %d, want 429", code)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			h, err := mw(t.Context(), gateway.Route{ID: "shop/1", Policy: tt.policy}, proxy)
			if err != nil {
				t.Fatal(err)
			}
			front := httptest.NewServer(h)
			defer front.Close()
			tt.run(t, func(header ...string) (int, string) {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL, nil)
				for i := 0; i+1 < len(header); i += 2 {
					req.Header.Set(header[i], header[i+1])
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			})
		})
	}
}

func TestBadPolicies(t *testing.T) {
	t.Parallel()
	mw := Middlewares(Options{})
	tests := []struct {
		desc   string
		policy gateway.Policy
		want   string
		is     error
	}{
		{"jwt_sub without auth", gateway.Policy{RateLimit: &gateway.RateLimitPolicy{Rate: 1, Key: "jwt_sub"}}, "rate_limit.key: jwt_sub needs an auth policy", ratelimit.ErrInvalidConfig},
		{"bad breaker", gateway.Policy{Breaker: &gateway.BreakerPolicy{ErrorRatio: 2}}, "breaker.error_ratio: 2 is not a ratio (0-1)", breaker.ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := mw(t.Context(), gateway.Route{ID: "a/0", Policy: tt.policy}, http.NotFoundHandler())
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, tt.is) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
