package postgres

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"

	"github.com/jackc/pgx/v5"
)

// TestRacingServersOneWins has several servers (each its own DB and
// pool) read the same app version and update it in transactions at once:
// exactly one wins and the others get ErrConflict.
func TestRacingServersOneWins(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	const servers = 4
	dbs := make([]*DB, servers)
	for i := range dbs {
		db, err := Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		dbs[i] = db
	}
	if err := dbs[0].CreateApp(t.Context(), store.App{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  = make([]error, servers)
		)
		for i, db := range dbs {
			a, err := db.GetApp(t.Context(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				<-start
				errs[i] = db.InTx(t.Context(), func(tx store.Tx) error {
					a.TargetRelease = i
					_, err := tx.UpdateApp(t.Context(), a)
					return err
				})
			})
		}
		close(start)
		wg.Wait()
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("round %d, server %d: %v, want nil or ErrConflict", round, i, err)
			}
		}
		if wins != 1 {
			t.Errorf("round %d: %d winners, want 1 (%v)", round, wins, errs)
		}
	}
}

// TestSerializationFailureIsConflict makes PostgreSQL abort a transaction
// for another's sake and checks the store reports it as ErrConflict.
func TestSerializationFailureIsConflict(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.CreateApp(t.Context(), store.App{Name: "shop"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	conns := make([]*pgx.Conn, 2)
	txs := make([]pgx.Tx, 2)
	for i := range conns {
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		conns[i] = c
		if txs[i], err = c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}); err != nil {
			t.Fatal(err)
		}
		defer txs[i].Rollback(context.Background())
		var v int64
		if err := txs[i].QueryRow(ctx, `SELECT version FROM apps WHERE name = 'shop'`).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := txs[0].Exec(ctx, `UPDATE apps SET version = version + 1 WHERE name = 'shop'`); err != nil {
		t.Fatal(err)
	}
	if err := txs[0].Commit(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = txs[1].Exec(ctx, `UPDATE apps SET version = version + 1 WHERE name = 'shop'`)
	if err == nil {
		t.Fatal("the second repeatable-read update succeeded")
	}
	got := conflict(err)
	if !errors.Is(got, store.ErrConflict) {
		t.Errorf("conflict(%v) = %v, want ErrConflict", err, got)
	}
	if other := conflict(errors.New("boom")); errors.Is(other, store.ErrConflict) {
		t.Errorf("conflict of an unrelated error is ErrConflict: %v", other)
	}
}
