package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store/sqlstore"
)

// TestStalledWriterReleasesTheWriteLock: a server that stops in the middle
// of a write (paused, cut off) must not hold every other server's writes
// for longer than writeIdleTimeout.
func TestStalledWriterReleasesTheWriteLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = a.Close() }()
	b, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()

	stalled := make(chan struct{})
	release := make(chan struct{})
	aDone := make(chan error, 1)
	go func() {
		aDone <- backend{db: a.sql}.Write(ctx, func(sqlstore.Querier) error {
			close(stalled)
			<-release // the client never sends its next statement
			return nil
		})
	}()
	<-stalled
	start := time.Now()
	wctx, cancel := context.WithTimeout(ctx, writeIdleTimeout+10*time.Second)
	defer cancel()
	if err := (backend{db: b.sql}).Write(wctx, func(sqlstore.Querier) error { return nil }); err != nil {
		t.Fatalf("the other server's write behind a stalled writer: %v (after %s)", err, time.Since(start))
	}
	waited := time.Since(start)
	close(release)
	if err := <-aDone; err == nil {
		t.Fatal("the stalled write committed after its session should have been ended")
	}
	if waited > writeIdleTimeout+5*time.Second {
		t.Fatalf("the other server waited %s behind a stalled writer; the bound is %s", waited, writeIdleTimeout)
	}
	t.Logf("the other server's write went through %s after the writer stalled", waited.Round(time.Millisecond))
}
