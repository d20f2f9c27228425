package api

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// TestWatchByTeam: a member's stream carries its team's events only, and
// ends soon after its token is revoked.
func TestWatchByTeam(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ts.createTeam(t, "team-a")
	b := ts.createTeam(t, "team-b")
	u := ts.addUser(t, "dev@b.example", map[string]rbac.Role{b.ID: rbac.RoleDeveloper})
	tok, row := ts.personalToken(t, u.ID, rbac.ScopeRead)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := ts.openWatch(t, ctx, "", map[string]string{"Authorization": "Bearer " + tok})

	ts.applyIn(t, "team-a", specShopA)
	ts.applyIn(t, "team-b", specV1) // app "shop"
	e := stream.next(t, nil)
	if e.App != "shop" {
		t.Fatalf("first event of a team B member: %+v", e)
	}

	ts.mustCall(t, http.StatusNoContent, http.MethodDelete, "/api/v1/tokens/"+row.ID, nil, nil)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, stream.rd)
		done <- err
	}()
	deadline := time.After(10 * time.Second)
	for {
		ts.srv.Changes.Poke()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("stream ended with %v, want a clean end", err)
			}
			return
		case <-deadline:
			t.Fatal("the stream of a revoked token is still open")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
