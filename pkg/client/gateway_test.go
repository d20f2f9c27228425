package client

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

func TestGatewaySnapshot(t *testing.T) {
	t.Parallel()
	c, _, _ := newServer(t, nil)
	ctx := context.Background()
	snap, err := c.GatewaySnapshot(ctx)
	if err != nil || snap.Revision != 0 || snap.Routes == nil || len(snap.Routes) != 0 {
		t.Fatalf("empty: %+v, %v", snap, err)
	}
	if _, err := c.Apply(ctx, api.ApplyRequest{Spec: specV1}); err != nil {
		t.Fatal(err)
	}
	if snap, err = c.GatewaySnapshot(ctx); err != nil || snap.Revision != 1 {
		t.Fatalf("after apply: %+v, %v", snap, err)
	}
	bad := New(c.base, "not-the-token")
	if _, err := bad.GatewaySnapshot(ctx); !IsUnauthorized(err) {
		t.Fatalf("bad token: %v", err)
	}
}

// TestWatchState: the hook hears every stream open and every drop, in
// turn, starting with the open.
func TestWatchState(t *testing.T) {
	t.Parallel()
	c, _, _ := newServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), 80*time.Millisecond)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	})
	var mu sync.Mutex
	var states []bool // true: opened
	WithWatchState(func(err error) {
		mu.Lock()
		defer mu.Unlock()
		states = append(states, err == nil)
	})(c)
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	if err := c.Watch(ctx, 0, func(api.Event) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Watch: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) < 4 {
		t.Fatalf("states %v: want at least two opens and two drops", states)
	}
	for i, opened := range states {
		if opened != (i%2 == 0) {
			t.Fatalf("states %v: want open, drop, open, drop...", states)
		}
	}
}
