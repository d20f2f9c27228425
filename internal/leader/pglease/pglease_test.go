package pglease_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/berthdev/berth/internal/leader"
	"github.com/berthdev/berth/internal/leader/pglease"
	"github.com/berthdev/berth/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	os.Exit(pgtest.Main(m))
}

func open(t *testing.T) (*pglease.Store, *pgxpool.Pool, string) {
	t.Helper()
	u := pgtest.URL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	s, err := pglease.New(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	return s, pool, u
}

// fencedWrite inserts a row in one transaction fenced by epoch.
func fencedWrite(ctx context.Context, db *sql.DB, epoch int64) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := pglease.Fence(ctx, tx, "l", epoch); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO writes (epoch, at) VALUES ($1, now())`, epoch); err != nil {
		return err
	}
	return tx.Commit()
}

func TestLease(t *testing.T) {
	s, pool, _ := open(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE writes (epoch bigint, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	ttl := 300 * time.Millisecond

	// a takes the free lease at epoch 1; b is refused while it is valid.
	ea, ok, err := s.Acquire(ctx, "l", "a", ttl)
	if err != nil || !ok || ea != 1 {
		t.Fatalf("a acquires a free lease: epoch %d ok %v err %v, want 1 true nil", ea, ok, err)
	}
	if _, ok, err := s.Acquire(ctx, "l", "b", ttl); err != nil || ok {
		t.Fatalf("b acquires a valid lease: ok %v err %v, want false nil", ok, err)
	}
	if ok, err := s.Renew(ctx, "l", "a", ea, ttl); err != nil || !ok {
		t.Fatalf("a renews: ok %v err %v", ok, err)
	}
	if ok, err := s.Renew(ctx, "l", "b", ea, ttl); err != nil || ok {
		t.Fatalf("b renews a's lease: ok %v err %v, want false", ok, err)
	}
	if err := fencedWrite(ctx, db, ea); err != nil {
		t.Fatalf("a writes under its valid lease: %v", err)
	}

	// Once it expires (by the database's clock), b takes it at epoch 2.
	var eb int64
	for deadline := time.Now().Add(10 * time.Second); ; {
		eb, ok, err = s.Acquire(ctx, "l", "b", ttl)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b never acquired the expired lease")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if eb != ea+1 {
		t.Fatalf("b's epoch = %d, want %d", eb, ea+1)
	}
	if ok, err := s.Renew(ctx, "l", "a", ea, ttl); err != nil || ok {
		t.Fatalf("a renews after b took over: ok %v err %v, want false", ok, err)
	}
	if err := fencedWrite(ctx, db, ea); !errors.Is(err, leader.ErrFenced) {
		t.Fatalf("a writes at the old epoch: %v, want ErrFenced", err)
	}
	if err := fencedWrite(ctx, db, eb); err != nil {
		t.Fatalf("b writes at its epoch: %v", err)
	}
	h, err := s.Current(ctx, "l")
	if err != nil || h.Holder != "b" || h.Epoch != eb || !h.Valid {
		t.Fatalf("current = %+v, %v; want b at %d, valid", h, err, eb)
	}

	// Release lets a successor in at once, and fences the releaser.
	if err := s.Release(ctx, "l", "b", eb); err != nil {
		t.Fatal(err)
	}
	if err := fencedWrite(ctx, db, eb); !errors.Is(err, leader.ErrFenced) {
		t.Fatalf("b writes after releasing: %v, want ErrFenced", err)
	}
	ec, ok, err := s.Acquire(ctx, "l", "c", time.Minute)
	if err != nil || !ok || ec != eb+1 {
		t.Fatalf("c acquires a released lease: epoch %d ok %v err %v, want %d true nil", ec, ok, err, eb+1)
	}

	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM writes WHERE epoch = $1`, ea).Scan(&n); err != nil || n != 1 {
		t.Fatalf("writes landed at epoch %d: %d (%v), want exactly the one made while it led", ea, n, err)
	}
}

// TestFenceWaitsForAcquire: a successor's acquire waits for a fenced
// write in flight, so the write lands before the epoch moves, never after.
func TestFenceHoldsOffAcquire(t *testing.T) {
	s, pool, _ := open(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE writes (epoch bigint, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	ea, _, err := s.Acquire(ctx, "l", "a", 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pglease.Fence(ctx, tx, "l", ea); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO writes (epoch, at) VALUES ($1, now())`, ea); err != nil {
		t.Fatal(err)
	}
	// The lease expires while the write is open; b keeps trying.
	got := make(chan int64, 1)
	go func() {
		for {
			e, ok, err := s.Acquire(ctx, "l", "b", time.Minute)
			if err != nil || ok {
				got <- e
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	// Wait until b's acquire is blocked on the row a's write holds.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var waiting int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO leader_leases%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("b's acquire never waited on a's fenced write")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case e := <-got:
		t.Fatalf("b acquired (epoch %d) while a's fenced write was open", e)
	default:
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("a's write, open when the lease expired, fails to commit: %v", err)
	}
	if e := <-got; e != ea+1 {
		t.Fatalf("b's epoch = %d, want %d", e, ea+1)
	}
}

// TestStalledFenceHolderReleasesTheLease: a writer passes the fence and
// then never comes back (the process was paused, the network cut). The
// row lock it holds must not outlive FenceIdleTimeout: a successor takes
// the expired lease soon after, and the stalled write never lands.
func TestStalledFenceHolderReleasesTheLease(t *testing.T) {
	s, pool, _ := open(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE writes (epoch bigint, at timestamptz)`); err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(pool)
	ttl := 300 * time.Millisecond
	ea, ok, err := s.Acquire(ctx, "l", "a", ttl)
	if err != nil || !ok {
		t.Fatalf("a acquires: ok %v err %v", ok, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := pglease.Fence(ctx, tx, "l", ea); err != nil {
		t.Fatalf("a's fence: %v", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO writes (epoch, at) VALUES ($1, now())`, ea); err != nil {
		t.Fatal(err)
	}
	// a now stalls, holding the row FOR SHARE. b campaigns as a real
	// elector would: one attempt after another until it leads.
	start := time.Now()
	for {
		actx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, ok, err := s.Acquire(actx, "l", "b", ttl)
		cancel()
		if ok {
			break
		}
		if err != nil && actx.Err() == nil {
			t.Fatal(err)
		}
		if time.Since(start) > stalledBound {
			t.Fatalf("b could not take the lease %s after a stalled inside its fenced write", time.Since(start))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("b took the lease %s after a stalled", time.Since(start).Round(time.Millisecond))
	if err := tx.Commit(); err == nil {
		t.Fatal("the stalled writer's commit succeeded after its session should have been ended")
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM writes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("writes landed: %d (%v), want 0", n, err)
	}
}

// stalledBound: how long a successor may wait behind a stalled writer.
const stalledBound = pglease.FenceIdleTimeout + 5*time.Second
