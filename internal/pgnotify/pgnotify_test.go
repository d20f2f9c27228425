package pgnotify_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/berthdev/berth/internal/pgnotify"
	"github.com/berthdev/berth/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// TestNotifyReachesListeners: a notification sent through one pool
// reaches a listener on another connection, in order, and a listener
// whose connection is killed reconnects and says so.
func TestNotifyReachesListeners(t *testing.T) {
	u := pgtest.URL(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	type note struct{ ch, payload string }
	got := make(chan note, 16)
	reconnected := make(chan struct{}, 1)
	ready := make(chan struct{})
	l := &pgnotify.Listener{
		Config:      pool.Config().ConnConfig,
		Channels:    []string{pgnotify.Changes, pgnotify.Reconcile},
		Handle:      func(ch, p string) { got <- note{ch, p} },
		OnReconnect: func() { reconnected <- struct{}{} },
		Ready:       ready,
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = l.Run(ctx) }()
	<-ready

	for _, n := range []note{{pgnotify.Reconcile, "shop"}, {pgnotify.Changes, ""}, {pgnotify.Reconcile, "blog"}} {
		if err := pgnotify.Notify(ctx, pool, n.ch, n.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := pgnotify.Notify(ctx, pool, pgnotify.Runs, "not listened to"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []note{{pgnotify.Reconcile, "shop"}, {pgnotify.Changes, ""}, {pgnotify.Reconcile, "blog"}} {
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("got %+v, want %+v", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no notification %+v", want)
		}
	}

	// Kill the listener's session: it reconnects, says so, and hears again.
	if _, err := pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not reconnect")
	}
	if err := pgnotify.Notify(ctx, pool, pgnotify.Changes, "again"); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if n != (note{pgnotify.Changes, "again"}) {
			t.Fatalf("after reconnecting got %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no notification after reconnecting")
	}
	cancel()
	<-done
}
