package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/leader/pglease"
	"github.com/berthdev/berth/internal/pgnotify"
	"github.com/berthdev/berth/internal/store/postgres"
)

// leaseName is the one lease Berth's servers elect their leader by.
const leaseName = "berth-leader"

// The channels servers wake each other on (see internal/pgnotify).
const (
	channelChanges   = pgnotify.Changes
	channelReconcile = pgnotify.Reconcile
	channelRuns      = pgnotify.Runs
	channelLeader    = pgnotify.Leader
)

// replication is what servers sharing one database need of each other:
// an elector, and wake-ups. A server alone on SQLite always leads and has
// nobody to wake.
type replication struct {
	elector leader.Elector
	pool    *pgxpool.Pool // nil on SQLite
	leases  *pglease.Store
	holder  string
	log     *slog.Logger
	// leading is 1 while this server leads; fenced and passed count the
	// fence's verdicts on writes of leader-only work (for /metrics).
	leading, fenced, passed atomic.Int64
}

// openReplication opens the lease and notification connections when the
// store is PostgreSQL.
func openReplication(ctx context.Context, cfg Config, logger *slog.Logger) (*replication, error) {
	if cfg.Database == "" {
		return &replication{elector: leader.Always{}, log: logger}, nil
	}
	pc, err := pgxpool.ParseConfig(cfg.Database)
	if err != nil {
		return nil, fmt.Errorf("server: %s: %w", databaseFlag, err)
	}
	pc.MaxConns = 4 // lease renewals and notifications only
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("server: connect for leader election: %w", err)
	}
	leases, err := pglease.New(ctx, pool)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	holder := holderName(cfg.Listen)
	d := cfg.LeaseDuration
	if d <= 0 {
		d = leader.DefaultLeaseDuration
	}
	el, err := leader.NewLease(leader.LeaseOptions{
		Store: leases, Name: leaseName, Holder: holder,
		LeaseDuration: d, RenewDeadline: d * 2 / 3, RetryPeriod: d / 6,
		Logger: logger,
	})
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	return &replication{elector: el, pool: pool, leases: leases, holder: holder, log: logger}, nil
}

// holderName names this process in the lease: where it runs, its API
// address (for operators) and a random part, since a restarted server
// must not pass for its predecessor.
func holderName(listen string) string {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s@%s", host, os.Getpid(), hex.EncodeToString(b), listen)
}

// Notify wakes every server on channel (this one too). A failure is only
// logged: notifications are hints, and every receiver also polls.
func (r *replication) Notify(ctx context.Context, channel, payload string) {
	if r.pool == nil {
		return
	}
	if err := pgnotify.Notify(ctx, r.pool, channel, payload); err != nil && ctx.Err() == nil {
		r.log.Warn("waking the other servers failed; they catch up at their next poll", "channel", channel, "err", err)
	}
}

// Listen hands the other servers' notifications to handle until ctx ends;
// reconnected runs after a lost connection was re-established.
func (r *replication) Listen(ctx context.Context, handle func(channel, payload string), reconnected func()) {
	if r.pool == nil {
		<-ctx.Done()
		return
	}
	l := &pgnotify.Listener{
		Config:      r.pool.Config().ConnConfig,
		Channels:    []string{channelChanges, channelReconcile, channelRuns, channelLeader},
		Handle:      handle,
		OnReconnect: reconnected,
		Logger:      r.log,
	}
	_ = l.Run(ctx)
}

// campaign wakes this server's elector: the leader released the lease.
func (r *replication) campaign() {
	if w, ok := r.elector.(interface{ Wake() }); ok {
		w.Wake()
	}
}

// Close closes the connections.
func (r *replication) Close() {
	if r.pool != nil {
		r.pool.Close()
	}
}

// fenceByTerm is the PostgreSQL store's fence: writes of leader-only work
// check the lease's epoch; API writes (no term in their context) pass.
func (r *replication) fenceByTerm(ctx context.Context, tx postgres.FenceQuerier) error {
	t := leader.TermFrom(ctx)
	if t == nil {
		return nil
	}
	err := pglease.Fence(ctx, tx, leaseName, t.Epoch())
	switch {
	case errors.Is(err, leader.ErrFenced):
		r.fenced.Add(1)
		r.log.Warn("rejected a write of leader-only work: another server leads now", "err", err)
	case err == nil:
		r.passed.Add(1)
	}
	return err
}

// register adds the leadership series to reg.
func (r *replication) register(reg prometheus.Registerer) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "berth_leader", Help: "1 while this server is the leader, else 0."},
			func() float64 { return float64(r.leading.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_leader_fenced_writes_total",
			Help: "Writes of leader-only work rejected because the lease's epoch moved on."},
			func() float64 { return float64(r.fenced.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "berth_leader_fenced_writes_passed_total",
			Help: "Writes of leader-only work whose epoch check passed."},
			func() float64 { return float64(r.passed.Load()) }),
	)
}
