// Package pgnotify carries wake-ups between servers on one PostgreSQL
// database with LISTEN/NOTIFY: a write on one replica wakes the leader's
// reconciler and every replica's watch feed. Notifications are hints, not
// data: a receiver re-reads the store, so a lost one costs a poll interval,
// never a change (and after a reconnect, when some may have been lost,
// Listener calls OnReconnect so the receiver re-reads at once).
package pgnotify

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channels Berth's servers use.
const (
	// Changes: the store changed (an event was appended); watch feeds
	// and the route feed re-read the change log. No payload.
	Changes = "berth_changes"
	// Reconcile: an app needs reconciling; the payload is its name. The
	// leader's reconciler queues it.
	Reconcile = "berth_reconcile"
	// Runs: pipeline runs changed (queued, cancel requested, approval
	// decided); the payload is the run ID or "". The leader's run driver
	// wakes.
	Runs = "berth_runs"
	// Leader: the leader released its lease on a clean stop; the others
	// campaign at once instead of at their next retry. No payload.
	Leader = "berth_leader"
)

// Notify sends payload on channel through pool. PostgreSQL delivers it to
// every listening session, this server's own included.
func Notify(ctx context.Context, pool *pgxpool.Pool, channel, payload string) error {
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("pgnotify: notify %s: %w", channel, err)
	}
	return nil
}

// Listener holds one dedicated connection that LISTENs on Channels and
// hands each notification to Handle.
type Listener struct {
	// Config is the connection to listen on (a copy of the pool's).
	Config   *pgx.ConnConfig
	Channels []string
	// Handle is called for every notification, in order, on Run's
	// goroutine: it must not block.
	Handle func(channel, payload string)
	// OnReconnect is called after the connection was re-established (not
	// the first time): notifications sent while it was down are lost.
	OnReconnect func()
	// Ready, if set, is closed once the first LISTEN is in place.
	Ready  chan struct{}
	Logger *slog.Logger
}

// Run listens until ctx ends, reconnecting with backoff when the
// connection fails.
func (l *Listener) Run(ctx context.Context) error {
	log := l.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := l.session(ctx, first)
		if ctx.Err() != nil {
			break
		}
		first = false
		log.Warn("change notifications: connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
	return nil
}

// session connects, listens and waits for notifications until the
// connection fails or ctx ends.
func (l *Listener) session(ctx context.Context, first bool) error {
	conn, err := pgx.ConnectConfig(ctx, l.Config.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	for _, ch := range l.Channels {
		if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return err
		}
	}
	if first && l.Ready != nil {
		close(l.Ready)
	}
	if !first && l.OnReconnect != nil {
		l.OnReconnect()
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		l.Handle(n.Channel, n.Payload)
	}
}
