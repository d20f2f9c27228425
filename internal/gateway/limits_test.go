package gateway

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestLimits(t *testing.T) {
	t.Parallel()
	g := newTestGateway(t, Options{MaxHeaderBytes: 4096})
	base := front(t, g)
	var hits atomic.Int64
	addr := backend(t, "", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n, _ := io.Copy(io.Discard, r.Body)
		_, _ = io.WriteString(w, "read "+strings.Repeat("x", int(n%10)))
	})
	r := simpleRoute("l/0", "limits.localhost", "/", addr)
	r.Policy.MaxBodyBytes = 1000
	mustLoad(t, g, r)
	big := func(n int) io.Reader { return strings.NewReader(strings.Repeat("b", n)) }
	tests := []struct {
		desc    string
		hdr     http.Header
		body    io.Reader
		chunked bool
		want    int
		reached bool // whether the instance sees the request
	}{
		{desc: "small header", hdr: http.Header{"X-Pad": {strings.Repeat("a", 1000)}}, want: 200, reached: true},
		{desc: "header just over the limit", hdr: http.Header{"X-Pad": {strings.Repeat("a", 5000)}}, want: 431},
		{desc: "header far over the limit", hdr: http.Header{"X-Pad": {strings.Repeat("a", 20000)}}, want: 431},
		{desc: "body within limit", body: big(1000), want: 200, reached: true},
		{desc: "declared body too large", body: big(1001), want: 413},
		{desc: "chunked body too large", body: big(5000), chunked: true, want: 413},
		{desc: "chunked body within limit", body: big(900), chunked: true, want: 200, reached: true},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			// Not parallel: each case checks whether the instance was hit.
			before := hits.Load()
			body := tt.body
			if tt.chunked {
				body = io.MultiReader(body)
			}
			res := do(t, "POST", base, "limits.localhost", "/", tt.hdr, body)
			if res.code != tt.want {
				t.Fatalf("got %d %q, want %d", res.code, res.body, tt.want)
			}
			// A chunked body over the limit may have started to flow;
			// what matters is that it never completed.
			if reached := hits.Load() > before; reached != tt.reached && !(tt.chunked && !tt.reached) {
				t.Fatalf("instance reached: %v, want %v", reached, tt.reached)
			}
		})
	}
}
