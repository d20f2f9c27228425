package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/blob"
	"github.com/berthdev/berth/internal/blob/blobtest"
	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/postgres"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/client"
)

// A real server's leader sweeps: the artifacts of a run that ended past
// the retention go (the run stays, listing says when they expired and
// download answers 410), the newest successful run and a recent one keep
// theirs, and garbage collection deletes the expired archive and an old
// orphan but keeps a young one — on SQLite (blobs in the data directory)
// and PostgreSQL (blobs in the database).
func TestRetentionSweep(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testRetentionSweep(t, backend)
		})
	}
}

// seeded is a store with its blob store, opened before the server starts
// to plant old runs and blobs, and how to age a blob.
type seeded struct {
	st    store.Store
	blobs blob.Store
	age   func(digest string, by time.Duration)
	close func()
}

func seedStore(t *testing.T, backend, dataDir string) (seeded, string) {
	t.Helper()
	ctx := t.Context()
	if backend == "sqlite" {
		db, err := sqlite.Open(ctx, filepath.Join(dataDir, "berth.db"))
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(dataDir, "blobs")
		blobs, err := blob.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return seeded{st: db, blobs: blobs, close: func() { _ = db.Close() }, age: func(d string, by time.Duration) {
			blobtest.AgeFile(t, dir, d, by)
		}}, ""
	}
	url := pgtest.URL(t)
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return seeded{st: db, blobs: db.Blobs(), close: func() { _ = db.Close() }, age: func(d string, by time.Duration) {
		pgtest.Exec(t, url, blobtest.AgeSQL, d, by.Seconds())
	}}, url
}

func testRetentionSweep(t *testing.T, backend string) {
	ctx := t.Context()
	dataDir := t.TempDir()
	seed, url := seedStore(t, backend, dataDir)
	put := func(content string) string {
		d := blobtest.Digest([]byte(content))
		if err := seed.blobs.Put(ctx, d, strings.NewReader(content), int64(len(content))); err != nil {
			t.Fatal(err)
		}
		return d
	}
	expiredArchive, recentArchive, lastArchive := put("artifacts of run 1"), put("artifacts of run 2"), put("artifacts of run 3")
	oldOrphan, youngOrphan := put("an upload nothing refers to"), put("an upload about to be applied")
	for _, d := range []string{expiredArchive, recentArchive, lastArchive, oldOrphan} {
		seed.age(d, 3*time.Hour)
	}
	now := time.Now().UTC()
	if err := seed.st.CreateApp(ctx, store.App{Name: "shop", Ports: map[string]int{}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		n       int
		state   string
		ago     time.Duration
		archive string
	}{
		{1, store.RunSucceeded, 40 * 24 * time.Hour, expiredArchive}, // past the retention: expires
		{2, store.RunFailed, 2 * 24 * time.Hour, recentArchive},      // recent: kept
		{3, store.RunSucceeded, 35 * 24 * time.Hour, lastArchive},    // the newest successful: kept
	} {
		run := store.Run{ID: fmt.Sprintf("shop.%d", r.n), App: "shop", Number: r.n, Trigger: "manual", Ref: "main", State: r.state,
			Steps: []store.RunStep{{Name: "build", Kind: "run", Status: "succeeded", Attempt: 1,
				Artifacts: &store.StepArtifacts{Digest: r.archive, Size: 18, Count: 1, Files: []string{"bin/shop"}, Bytes: 5}}},
			CreatedAt: now.Add(-r.ago - time.Minute), StartedAt: now.Add(-r.ago - time.Minute), FinishedAt: now.Add(-r.ago), UpdatedAt: now.Add(-r.ago)}
		if err := seed.st.CreateRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	seed.close()

	s := runInProcess(t, Config{DataDir: dataDir, Database: url,
		Retention: RetentionConfig{ArtifactKeepLast: 1, Every: 200 * time.Millisecond}}, "")
	c := s.c

	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := c.ListArtifacts(ctx, "shop.1")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && !list[0].ExpiredAt.IsZero() {
			if list[0].Digest != "" || list[0].Count != 1 || list[0].Size != 18 {
				t.Errorf("expired listing %+v; want no digest, the counts kept", list[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run 1's artifacts did not expire within 30s: %+v", list)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, _, err := c.DownloadArtifacts(ctx, "shop.1", "build")
	var apiErr *client.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusGone || !strings.Contains(err.Error(), "expired on") {
		t.Errorf("download of expired artifacts: %v; want 410 saying when they expired", err)
	}
	if run, err := c.GetRun(ctx, "shop.1"); err != nil || run.State != store.RunSucceeded {
		t.Errorf("the expired run: %+v, %v; want it kept", run, err)
	}
	for _, id := range []string{"shop.2", "shop.3"} {
		rc, digest, err := c.DownloadArtifacts(ctx, id, "build")
		if err != nil {
			t.Errorf("download %s: %v", id, err)
			continue
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || blobtest.Digest(b) != digest {
			t.Errorf("download %s: %d bytes hashing to %s, %v; want %s", id, len(b), blobtest.Digest(b), err, digest)
		}
	}

	// Garbage collection runs in the same pass, after the expiry: wait for
	// the metric that says so, then look in the blob store.
	for !strings.Contains(metrics(t, s.api), "berth_blobs_deleted_total 2") {
		if time.Now().After(deadline) {
			t.Fatalf("no pass deleted 2 blobs within 30s:\n%s", metrics(t, s.api))
		}
		time.Sleep(100 * time.Millisecond)
	}
	m := metrics(t, s.api)
	for _, want := range []string{"berth_artifacts_expired_total 1", "berth_blobs_stored 3", "berth_retention_sweep_failures_total 0"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	s.stop()
	seed, _ = reopen(t, backend, dataDir, url)
	defer seed.close()
	for d, want := range map[string]bool{expiredArchive: false, oldOrphan: false, recentArchive: true, lastArchive: true, youngOrphan: true} {
		if has, err := seed.blobs.Has(ctx, d); err != nil || has != want {
			t.Errorf("blob %s stored = %v, %v; want %v", d, has, err, want)
		}
	}
}

// reopen opens the stopped server's store and blob store again.
func reopen(t *testing.T, backend, dataDir, url string) (seeded, string) {
	t.Helper()
	if backend == "sqlite" {
		return seedStore(t, backend, dataDir)
	}
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	return seeded{st: db, blobs: db.Blobs(), close: func() { _ = db.Close() }}, url
}

func metrics(t *testing.T, api string) string {
	t.Helper()
	resp, err := http.Get("http://" + api + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
