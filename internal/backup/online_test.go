package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// writeReleases keeps creating releases of app, each with its event in
// the same transaction, until ctx ends.
func writeReleases(ctx context.Context, st store.Store, app string, commits *atomic.Int64) (int, error) {
	n := 0
	for ctx.Err() == nil {
		n++
		err := st.InTx(ctx, func(tx store.Tx) error {
			a, err := tx.GetApp(ctx, app)
			if err != nil {
				return err
			}
			a.LatestRelease, a.TargetRelease = n, n
			if _, err := tx.UpdateApp(ctx, a); err != nil {
				return err
			}
			if err := tx.CreateRelease(ctx, store.Release{App: app, Number: n, Spec: json.RawMessage(`{}`), SpecHash: fmt.Sprint(n),
				Cause: "apply", State: "Pending", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				return err
			}
			_, err = tx.AppendEvent(ctx, store.Event{Kind: "release.created", App: app, Release: n, Time: t0})
			return err
		})
		if err != nil {
			if ctx.Err() != nil {
				return n, nil
			}
			return n, err
		}
		commits.Add(1)
	}
	return n, nil
}

// An online backup taken while releases are being written holds, for
// every release, its event, and the app points at its last release: one
// snapshot, not tables read at different moments.
func TestBackupWhileWriting(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			var db interface {
				store.Store
				snapshot.Source
			}
			if backend == "sqlite" {
				db, _, _ = newSource(t)
			} else {
				db = openPostgres(t, pgtest.URL(t))
			}
			backupWhileWriting(t, db)
		})
	}
}

func backupWhileWriting(t *testing.T, db interface {
	store.Store
	snapshot.Source
}) {
	ctx := t.Context()
	if err := db.CreateApp(ctx, store.App{Name: "busy", Ports: map[string]int{}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var commits atomic.Int64
	var written int
	var werr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		written, werr = writeReleases(wctx, db, "busy", &commits)
	}()
	var files []string
	for range 3 {
		files = append(files, backupOf(t, slowSource{db, &commits}, nil, ""))
	}
	stop()
	wg.Wait()
	if werr != nil {
		t.Fatal(werr)
	}
	for i, f := range files {
		dir := t.TempDir()
		if _, err := restoreFile(ctx, f, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, RestoreOptions{}); err != nil {
			t.Fatal(err)
		}
		got := openSQLite(t, filepath.Join(dir, "berth.db"))
		a, err := got.GetApp(ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		rels, err := got.ListReleases(ctx, "busy")
		if err != nil {
			t.Fatal(err)
		}
		evs, err := got.ListEvents(ctx, 0, 1<<30)
		if err != nil {
			t.Fatal(err)
		}
		if len(rels) != a.LatestRelease || len(evs) != len(rels) {
			t.Errorf("backup %d: app at release %d, %d releases, %d events; want all equal", i, a.LatestRelease, len(rels), len(evs))
		}
		t.Logf("backup %d: %d of %d releases", i, len(rels), written)
	}
	if written < 2 {
		t.Errorf("only %d writes happened during the backups", written)
	}
}

// slowSource holds each snapshot open until the writer has committed a
// few more transactions, so writes surely land while it is read.
type slowSource struct {
	snapshot.Source
	commits *atomic.Int64
}

func (s slowSource) Snapshot(ctx context.Context, fn func(snapshot.Reader) error) error {
	return s.Source.Snapshot(ctx, func(r snapshot.Reader) error {
		from := s.commits.Load()
		for s.commits.Load() < from+3 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
		return fn(r)
	})
}
