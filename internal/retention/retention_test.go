package retention_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/blob/blobtest"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/retention"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backend is a real store with its real blob store, and how to age a
// blob behind the blob store's back.
type backend struct {
	st    store.Store
	blobs blob.Store
	age   func(t *testing.T, digest string, by time.Duration)
}

// backends runs fn against SQLite (with the folder store) and PostgreSQL
// (with its own blob store).
func backends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		db, err := sqlite.Open(t.Context(), filepath.Join(dir, "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		blobs, err := blob.New(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{st: db, blobs: blobs, age: func(t *testing.T, digest string, by time.Duration) {
			blobtest.AgeFile(t, filepath.Join(dir, "blobs"), digest, by)
		}})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		db, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		fn(t, backend{st: db, blobs: db.Blobs(), age: func(t *testing.T, digest string, by time.Duration) {
			pgtest.Exec(t, url, blobtest.AgeSQL, digest, by.Seconds())
		}})
	})
}

func putBlob(t *testing.T, b backend, content string) string {
	t.Helper()
	d := blobtest.Digest([]byte(content))
	if err := b.blobs.Put(t.Context(), d, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return d
}

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func createApp(t *testing.T, st store.Store, name string) {
	t.Helper()
	if err := st.CreateApp(t.Context(), store.App{Name: name, Ports: map[string]int{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
}

// createRun stores a run of app numbered n in state, ended ago before
// now (0: still running), whose step "build" kept the archive digest ("":
// none).
func createRun(t *testing.T, st store.Store, app string, n int, state string, ago time.Duration, digest string) string {
	t.Helper()
	id := fmt.Sprintf("%s.%d", app, n)
	step := store.RunStep{Name: "build", Kind: "run", Status: "succeeded", Attempt: 1}
	if digest != "" {
		step.Artifacts = &store.StepArtifacts{Digest: digest, Size: 123, Count: 2, Files: []string{"bin/a", "bin/b"}, Bytes: 456}
	}
	r := store.Run{ID: id, App: app, Number: n, Trigger: "manual", Ref: "main", State: state, Steps: []store.RunStep{step},
		CreatedAt: now.Add(-ago - time.Minute), StartedAt: now.Add(-ago - time.Minute), UpdatedAt: now.Add(-ago)}
	if ago > 0 {
		r.FinishedAt = now.Add(-ago)
	}
	if err := st.CreateRun(t.Context(), r); err != nil {
		t.Fatal(err)
	}
	return id
}

func artifactsOf(t *testing.T, st store.Store, id string) *store.StepArtifacts {
	t.Helper()
	r, err := st.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Steps[0].Artifacts
}

const day = 24 * time.Hour

// Runs that ended more than the TTL ago lose their archives, but the
// newest successful runs of each pipeline, recent runs and running ones
// keep theirs; a second pass changes nothing.
func TestExpireArtifacts(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		createApp(t, b.st, "shop")
		createApp(t, b.st, "quiet")
		expire := map[string]bool{
			createRun(t, b.st, "shop", 1, store.RunSucceeded, 40*day, "sha256:"+strings.Repeat("1", 64)):  true,
			createRun(t, b.st, "shop", 2, store.RunFailed, 40*day, "sha256:"+strings.Repeat("2", 64)):     true,
			createRun(t, b.st, "shop", 3, store.RunSucceeded, 35*day, "sha256:"+strings.Repeat("3", 64)):  false, // newest 2 successful
			createRun(t, b.st, "shop", 4, store.RunFailed, 1*day, "sha256:"+strings.Repeat("4", 64)):      false, // recent
			createRun(t, b.st, "shop", 5, store.RunSucceeded, 2*day, "sha256:"+strings.Repeat("5", 64)):   false,
			createRun(t, b.st, "shop", 6, store.RunRunning, 0, "sha256:"+strings.Repeat("6", 64)):         false,
			createRun(t, b.st, "quiet", 1, store.RunSucceeded, 90*day, "sha256:"+strings.Repeat("7", 64)): true,
			createRun(t, b.st, "quiet", 2, store.RunSucceeded, 80*day, "sha256:"+strings.Repeat("8", 64)): false, // its pipeline's last 2
			createRun(t, b.st, "quiet", 3, store.RunCancelled, 70*day, ""):                                false, // nothing to expire
			createRun(t, b.st, "quiet", 4, store.RunSucceeded, 60*day, "sha256:"+strings.Repeat("9", 64)): false,
		}
		p := retention.Policy{TTL: 30 * day, KeepLast: 2}
		got, err := retention.ExpireArtifacts(ctx, b.st, p, now, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if got.Runs != 3 || got.Steps != 3 || got.Bytes != 3*123 {
			t.Errorf("expired %+v; want 3 runs, 3 steps, %d bytes", got, 3*123)
		}
		for id, want := range expire {
			a := artifactsOf(t, b.st, id)
			switch {
			case want && (a == nil || a.Kept() || !a.ExpiredAt.Equal(now) || a.Count != 2 || a.Bytes != 456 || len(a.Files) != 0):
				t.Errorf("run %s: artifacts %+v; want expired at %v, counts kept, files and digest gone", id, a, now)
			case !want && a != nil && !a.Kept():
				t.Errorf("run %s: artifacts %+v expired; want them kept", id, a)
			}
		}
		r, err := b.st.GetRun(ctx, "shop.1")
		if err != nil || r.State != store.RunSucceeded || len(r.Steps) != 1 || r.Steps[0].Status != "succeeded" {
			t.Errorf("expired run %+v, %v; want the run and its step otherwise as they were", r, err)
		}
		again, err := retention.ExpireArtifacts(ctx, b.st, p, now.Add(time.Hour), slog.New(slog.DiscardHandler))
		if err != nil || again != (retention.Expired{}) {
			t.Errorf("second pass expired %+v, %v; want nothing", again, err)
		}
		if a := artifactsOf(t, b.st, "shop.1"); !a.ExpiredAt.Equal(now) {
			t.Errorf("second pass moved the expiry time to %v", a.ExpiredAt)
		}
		// TTL 0 keeps everything.
		if n, err := retention.ExpireArtifacts(ctx, b.st, retention.Policy{KeepLast: 0}, now.Add(1000*day), slog.New(slog.DiscardHandler)); err != nil || n.Steps != 0 {
			t.Errorf("TTL 0 expired %+v, %v", n, err)
		}
	})
}

// Garbage collection deletes old blobs nothing refers to (and the archive
// of an expired run), and keeps a release's source, a run's artifacts and
// a young unreferenced blob.
func TestCollectBlobs(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		source := putBlob(t, b, "source archive")
		kept := putBlob(t, b, "kept artifacts")
		expired := putBlob(t, b, "expired artifacts")
		orphan := putBlob(t, b, "old orphan")
		young := putBlob(t, b, "young orphan")
		cache := putBlob(t, b, "cache archive")
		createApp(t, b.st, "shop")
		if _, err := b.st.CreatePipelineCache(ctx, store.PipelineCache{App: "shop", Key: "deps-1", Digest: cache, Size: 13, CreatedAt: now, LastUsedAt: now}); err != nil {
			t.Fatal(err)
		}
		rel := store.Release{App: "shop", Number: 1, Spec: []byte(`{"name":"shop"}`), SpecHash: "sha256:" + strings.Repeat("0", 64),
			Source: source, Cause: "apply", State: "Deployed", CreatedAt: now, UpdatedAt: now}
		if err := b.st.CreateRelease(ctx, rel); err != nil {
			t.Fatal(err)
		}
		createRun(t, b.st, "shop", 1, store.RunSucceeded, 40*day, expired)
		createRun(t, b.st, "shop", 2, store.RunSucceeded, 1*day, kept)
		for _, d := range []string{source, kept, expired, orphan, cache} {
			b.age(t, d, 2*time.Hour)
		}
		sw := retention.New(retention.Options{Store: b.st, Blobs: b.blobs, Policy: retention.Policy{TTL: 30 * day, KeepLast: 1},
			Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now }})
		if err := sw.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		for d, want := range map[string]bool{source: true, kept: true, expired: false, orphan: false, young: true, cache: true} {
			if has, err := b.blobs.Has(ctx, d); err != nil || has != want {
				t.Errorf("blob %s stored = %v, %v; want %v", d, has, err, want)
			}
		}
		st := sw.Stats()
		if st.ExpiredSteps != 1 || st.DeletedBlobs != 2 || st.StoredBlobs != 4 || st.Failures != 0 {
			t.Errorf("stats %+v; want 1 step expired, 2 blobs deleted, 4 stored", st)
		}
		// Idempotent: a second pass deletes nothing more.
		if err := sw.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
		if st := sw.Stats(); st.DeletedBlobs != 2 || st.ExpiredSteps != 1 {
			t.Errorf("after a second pass: %+v", st)
		}
	})
}

// touchingStore is a real store whose reference reading lets a writer
// act in the middle: the writer touches a blob after garbage collection
// listed it as an old candidate and before the reference it is about to
// record can be read.
type touchingStore struct {
	store.Store
	touch func(ctx context.Context)
}

func (s touchingStore) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	s.touch(ctx)
	return s.Store.ListRuns(ctx, f)
}

// An old blob that nothing refers to yet, touched by a writer while the
// pass reads references (an apply naming an archive uploaded long ago),
// is not deleted: the age Delete checks is the store's, at deletion.
func TestCollectSparesBlobTouchedDuringPass(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, b backend) {
		ctx := t.Context()
		d := putBlob(t, b, "uploaded long ago")
		b.age(t, d, 2*time.Hour)
		touched := false
		st := touchingStore{Store: b.st, touch: func(ctx context.Context) {
			ok, err := b.blobs.Touch(ctx, d)
			if err != nil || !ok {
				t.Errorf("Touch = %v, %v", ok, err)
			}
			touched = true
		}}
		got, err := retention.CollectBlobs(ctx, b.blobs, st, time.Hour, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if !touched || got.Deleted != 0 {
			t.Fatalf("touched %v, collected %+v; want the touched blob kept", touched, got)
		}
		if has, _ := b.blobs.Has(ctx, d); !has {
			t.Fatal("the blob touched during the pass was deleted")
		}
		// Untouched, the same blob is collected (the test can fail).
		b.age(t, d, 2*time.Hour)
		if got, err := retention.CollectBlobs(ctx, b.blobs, b.st, time.Hour, slog.New(slog.DiscardHandler)); err != nil || got.Deleted != 1 {
			t.Fatalf("collected %+v, %v; want the old orphan deleted", got, err)
		}
	})
}
