package retention

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/store"
)

// DefaultEvery is how often the leader sweeps. Expiry is counted in days
// and the grace in an hour, so an hour's delay costs nothing but disk;
// a pass reads every run and release, so it should not be frequent.
const DefaultEvery = time.Hour

// Options configure a Sweeper.
type Options struct {
	Store store.Store
	// Blobs is the server's blob store; nil skips garbage collection.
	Blobs  blob.Store
	Policy Policy
	// Grace is how old an unreferenced blob must be to be deleted (0:
	// DefaultGrace).
	Grace time.Duration
	// Every is the time between passes (0: DefaultEvery).
	Every  time.Duration
	Logger *slog.Logger
	// Now is the clock expiry is judged by; nil means time.Now.
	Now func() time.Time
}

// Sweeper expires artifacts and collects blobs, one pass at a time. Only
// the leader runs it (Run), so two servers never sweep at once; a pass is
// safe to repeat, and to cut short.
type Sweeper struct {
	o Options

	expiredSteps, expiredBytes atomic.Int64
	deletedBlobs, deletedBytes atomic.Int64
	storedBlobs, storedBytes   atomic.Int64
	failures                   atomic.Int64
}

// New returns a sweeper with o's zero fields set to their defaults.
func New(o Options) *Sweeper {
	if o.Grace <= 0 {
		o.Grace = DefaultGrace
	}
	if o.Every <= 0 {
		o.Every = DefaultEvery
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Logger = o.Logger.With("component", "retention")
	s := &Sweeper{o: o}
	s.storedBlobs.Store(-1) // unknown until the first pass
	s.storedBytes.Store(-1)
	return s
}

// Run sweeps at once, then every Every, until ctx ends. A failed pass is
// logged and counted; the next one tries again.
func (s *Sweeper) Run(ctx context.Context) {
	t := time.NewTicker(s.o.Every)
	defer t.Stop()
	for {
		if err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.failures.Add(1)
			s.o.Logger.WarnContext(ctx, "retention sweep failed; the next pass tries again", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sweep runs one pass: expire artifacts, then collect blobs, so that the
// archives expired now are deleted in the same pass (they are old: their
// grace ran out long ago).
func (s *Sweeper) Sweep(ctx context.Context) error {
	exp, eerr := ExpireArtifacts(ctx, s.o.Store, s.o.Policy, s.o.Now(), s.o.Logger)
	s.expiredSteps.Add(int64(exp.Steps))
	s.expiredBytes.Add(exp.Bytes)
	if s.o.Blobs == nil {
		return eerr
	}
	col, cerr := CollectBlobs(ctx, s.o.Blobs, s.o.Store, s.o.Grace, s.o.Logger)
	s.deletedBlobs.Add(int64(col.Deleted))
	s.deletedBytes.Add(col.DeletedBytes)
	if cerr == nil {
		s.storedBlobs.Store(int64(col.Stored - col.Deleted))
		s.storedBytes.Store(col.StoredBytes - col.DeletedBytes)
	}
	if exp.Steps > 0 || col.Deleted > 0 {
		s.o.Logger.InfoContext(ctx, "retention sweep", "artifacts_expired", exp.Steps, "runs", exp.Runs,
			"blobs_deleted", col.Deleted, "bytes_freed", col.DeletedBytes, "blobs_stored", col.Stored-col.Deleted)
	}
	return errors.Join(eerr, cerr)
}

// Stats are the sweeper's counts since it was made, for metrics.
type Stats struct {
	ExpiredSteps, ExpiredBytes int64
	DeletedBlobs, DeletedBytes int64
	// StoredBlobs and StoredBytes are what the last pass left in the blob
	// store; -1 before a pass has counted them.
	StoredBlobs, StoredBytes int64
	Failures                 int64
}

// Stats returns the counts so far.
func (s *Sweeper) Stats() Stats {
	return Stats{
		ExpiredSteps: s.expiredSteps.Load(), ExpiredBytes: s.expiredBytes.Load(),
		DeletedBlobs: s.deletedBlobs.Load(), DeletedBytes: s.deletedBytes.Load(),
		StoredBlobs: s.storedBlobs.Load(), StoredBytes: s.storedBytes.Load(),
		Failures: s.failures.Load(),
	}
}
