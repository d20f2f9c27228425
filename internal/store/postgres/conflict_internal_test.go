package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pgtest"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/storetest"

	"github.com/jackc/pgx/v5"
)

// TestRacingServersOneWins has several servers (each its own DB and
// pool) read the same app version and update it at once: exactly one wins
// and the others get ErrConflict.
func TestRacingServersOneWins(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	stores := make([]store.Store, 4)
	for i := range stores {
		db, err := Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stores[i] = db
	}
	storetest.RaceUpdates(t, stores...)
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
