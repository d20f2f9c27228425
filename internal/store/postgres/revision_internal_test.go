package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlstore"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var errRollback = errors.New("roll this one back")

// TestRevisionsCommitInOrder has writers on several connections append
// events while a reader follows with "revision > since", as a watcher
// does: every read must continue exactly where the last one ended. A
// revision that committed after a higher one would show as a gap that
// fills later. Some writers roll back after appending, and every writer
// holds its transaction open a little after appending, so that commits
// would overtake each other if they could.
//
// "store" goes through the store from several DBs (servers) at once;
// "counter row only" runs the dialect's append on bare transactions
// without the store's write lock, to show the counter row alone keeps
// revisions in commit order.
func TestRevisionsCommitInOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		append func(t *testing.T, url string) func(ctx context.Context, i int) error
	}{
		{desc: "store", append: func(t *testing.T, url string) func(ctx context.Context, i int) error {
			dbs := make([]*DB, 3)
			for j := range dbs {
				db, err := Open(t.Context(), url)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				dbs[j] = db
			}
			return func(ctx context.Context, i int) error {
				return dbs[i%len(dbs)].InTx(ctx, func(tx store.Tx) error {
					if _, err := tx.AppendEvent(ctx, store.Event{Kind: "test", App: "a", Time: time.Now()}); err != nil {
						return err
					}
					return holdThenMaybeRollback(i)
				})
			}
		}},
		{desc: "counter row only", append: func(t *testing.T, url string) func(ctx context.Context, i int) error {
			pool, err := pgxpool.New(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			return func(ctx context.Context, i int) error {
				return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
					var rev int64
					if err := tx.QueryRow(ctx, rebind(dialect.AppendEvent), "test", "a", 0, sqlstore.FormatTime(time.Now()), nil).Scan(&rev); err != nil {
						return err
					}
					return holdThenMaybeRollback(i)
				})
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			url := pgtest.URL(t)
			reader, err := Open(t.Context(), url) // also migrates
			if err != nil {
				t.Fatal(err)
			}
			defer reader.Close()
			appendOne := tc.append(t, url)

			const writers, each = 6, 30
			var (
				wg        sync.WaitGroup
				committed atomic.Int64
				done      = make(chan struct{})
			)
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						err := appendOne(t.Context(), w*each+i)
						switch {
						case err == nil:
							committed.Add(1)
						case !errors.Is(err, errRollback):
							t.Error(err)
							return
						}
					}
				})
			}
			go func() { // owned by this test: ends when the writers do
				wg.Wait()
				close(done)
			}()

			var since, reads int64
			follow := func() error {
				es, err := reader.ListEvents(t.Context(), since, 0)
				if err != nil {
					return err
				}
				reads++
				for _, e := range es {
					if e.Revision != since+1 {
						return fmt.Errorf("read %d: revision %d after %d: revisions %d..%d were skipped or commit later",
							reads, e.Revision, since, since+1, e.Revision-1)
					}
					since = e.Revision
				}
				return nil
			}
			for finished := false; !finished; {
				select {
				case <-done:
					finished = true
				default:
				}
				if err := follow(); err != nil {
					t.Error(err)
					<-done // the writers log to t: let them end first
					return
				}
			}
			if err := follow(); err != nil {
				t.Fatal(err)
			}
			if since != committed.Load() {
				t.Errorf("reader ended at revision %d, but %d appends committed", since, committed.Load())
			}
			t.Logf("%d reads followed %d revisions", reads, since)
		})
	}
}

// holdThenMaybeRollback keeps the transaction open a moment after its
// append, and rolls back one in five.
func holdThenMaybeRollback(i int) error {
	time.Sleep(time.Duration(rand.IntN(3)) * time.Millisecond)
	if i%5 == 4 {
		return errRollback
	}
	return nil
}
