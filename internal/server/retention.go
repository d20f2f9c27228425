package server

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/retention"
	"github.com/berthdev/berth/internal/store"
)

// RetentionConfig says how long pipeline artifacts are kept and how often
// the leader sweeps (expires artifacts, deletes unreferenced blobs).
type RetentionConfig struct {
	// ArtifactTTL is how long after a run ended its artifacts are kept:
	// 0 means retention.DefaultArtifactTTL (30 days), negative forever.
	ArtifactTTL time.Duration
	// ArtifactKeepLast successful runs that kept artifacts, the newest of
	// each app's pipeline, keep them however old: 0 means
	// retention.DefaultKeepLast (5), negative none.
	ArtifactKeepLast int
	// Every is the time between sweeps (0: retention.DefaultEvery, 1h).
	Every time.Duration
	// BlobGrace is how old an unreferenced blob must be to be deleted
	// (0: retention.DefaultGrace, 1h). Not a flag: an upload's put and
	// its reference are seconds apart, and shorter would only add risk.
	BlobGrace time.Duration
}

func (c RetentionConfig) policy() retention.Policy {
	p := retention.Policy{TTL: c.ArtifactTTL, KeepLast: c.ArtifactKeepLast}
	switch {
	case p.TTL == 0:
		p.TTL = retention.DefaultArtifactTTL
	case p.TTL < 0:
		p.TTL = 0 // forever
	}
	switch {
	case p.KeepLast == 0:
		p.KeepLast = retention.DefaultKeepLast
	case p.KeepLast < 0:
		p.KeepLast = 0
	}
	return p
}

// newRetention builds the leader's sweeper; the leader runs it each term
// (leaderWork.lead), so one server sweeps at a time.
func newRetention(cfg Config, st store.Store, blobs blob.Store, logger *slog.Logger) *retention.Sweeper {
	return retention.New(retention.Options{
		Store: st, Blobs: blobs, Policy: cfg.Retention.policy(),
		Grace: cfg.Retention.BlobGrace, Every: cfg.Retention.Every, Logger: logger,
	})
}

// registerRetentionMetrics adds the sweeper's series to reg. They count
// what this server's sweeps did while it led; the stored-blob gauges are
// what its last pass found (-1 before it swept).
func registerRetentionMetrics(reg prometheus.Registerer, s *retention.Sweeper) {
	series := []struct {
		name, help string
		gauge      bool
		v          func(retention.Stats) int64
	}{
		{"berth_artifacts_expired_total", "Pipeline steps whose artifact archives retention expired.", false, func(s retention.Stats) int64 { return s.ExpiredSteps }},
		{"berth_artifacts_expired_bytes_total", "Size of the artifact archives retention expired.", false, func(s retention.Stats) int64 { return s.ExpiredBytes }},
		{"berth_blobs_deleted_total", "Blobs garbage collection deleted (nothing referred to them).", false, func(s retention.Stats) int64 { return s.DeletedBlobs }},
		{"berth_blobs_deleted_bytes_total", "Size of the blobs garbage collection deleted.", false, func(s retention.Stats) int64 { return s.DeletedBytes }},
		{"berth_retention_sweep_failures_total", "Retention sweeps that failed (the next one tries again).", false, func(s retention.Stats) int64 { return s.Failures }},
		{"berth_blobs_stored", "Blobs in the blob store after the last retention sweep (-1: none yet).", true, func(s retention.Stats) int64 { return s.StoredBlobs }},
		{"berth_blobs_stored_bytes", "Size of the blobs in the blob store after the last retention sweep (-1: none yet).", true, func(s retention.Stats) int64 { return s.StoredBytes }},
	}
	for _, m := range series {
		f := func() float64 { return float64(m.v(s.Stats())) }
		if m.gauge {
			reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.name, Help: m.help}, f))
		} else {
			reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.name, Help: m.help}, f))
		}
	}
}
