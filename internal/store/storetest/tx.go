package storetest

import (
	"errors"
	"testing"

	"github.com/berthdev/berth/internal/store"
)

var errBoom = errors.New("boom")

// checkUntouched checks a store that held only the app "old" at version 0
// still holds exactly that, after a transaction that must have rolled back.
func checkUntouched(t *testing.T, s store.Store) {
	t.Helper()
	ctx := t.Context()
	apps, err := s.ListApps(ctx)
	must(t, err)
	if len(apps) != 1 || apps[0].Name != "old" {
		t.Errorf("apps after rollback = %+v, want only old", apps)
	} else {
		checkApp(t, "old after rollback", apps[0], testApp("old"))
	}
	rs, err := s.ListReleases(ctx, "new")
	must(t, err)
	rs2, err := s.ListReleases(ctx, "old")
	must(t, err)
	if len(rs)+len(rs2) != 0 {
		t.Errorf("releases after rollback: %+v %+v", rs, rs2)
	}
	es, err := s.ListEvents(ctx, 0, 0)
	must(t, err)
	if len(es) != 0 {
		t.Errorf("events after rollback: %+v", es)
	}
	rev, err := s.LastRevision(ctx)
	must(t, err)
	if rev != 0 {
		t.Errorf("LastRevision after rollback = %d", rev)
	}
	ts, err := s.ListTokens(ctx)
	must(t, err)
	if len(ts) != 0 {
		t.Errorf("tokens after rollback: %+v", ts)
	}
}

// writeAll writes through every aggregate of tx.
func writeAll(t *testing.T, tx store.Tx) error {
	ctx := t.Context()
	if err := tx.CreateApp(ctx, testApp("new")); err != nil {
		return err
	}
	if err := tx.CreateRelease(ctx, testRelease("new", 1)); err != nil {
		return err
	}
	if err := tx.CreateRelease(ctx, testRelease("old", 1)); err != nil {
		return err
	}
	old := testApp("old")
	old.TargetRelease = 9
	if _, err := tx.UpdateApp(ctx, old); err != nil {
		return err
	}
	if _, err := tx.AppendEvent(ctx, testEvent(1)); err != nil {
		return err
	}
	return tx.CreateToken(ctx, testToken("tok"))
}

var txTests = []test{
	{desc: "tx/commit", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("old")))
		must(t, s.InTx(ctx, func(tx store.Tx) error { return writeAll(t, tx) }))
		if _, err := s.GetApp(ctx, "new"); err != nil {
			t.Errorf("GetApp new: %v", err)
		}
		old, err := s.GetApp(ctx, "old")
		must(t, err)
		if old.TargetRelease != 9 || old.Version != 1 {
			t.Errorf("old: TargetRelease=%d Version=%d, want 9 and 1", old.TargetRelease, old.Version)
		}
		if _, err := s.GetRelease(ctx, "new", 1); err != nil {
			t.Errorf("GetRelease new/1: %v", err)
		}
		if _, err := s.GetTokenByHash(ctx, testToken("tok").Hash); err != nil {
			t.Errorf("GetTokenByHash: %v", err)
		}
		rev, err := s.LastRevision(ctx)
		must(t, err)
		if rev == 0 {
			t.Errorf("LastRevision = 0 after a committed append")
		}
	}},
	{desc: "tx/reads see the transaction's writes", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.InTx(ctx, func(tx store.Tx) error {
			must(t, tx.CreateApp(ctx, testApp("shop")))
			must(t, tx.CreateRelease(ctx, testRelease("shop", 1)))
			a, err := tx.GetApp(ctx, "shop")
			must(t, err)
			a.TargetRelease = 1
			v, err := tx.UpdateApp(ctx, a)
			must(t, err)
			got, err := tx.GetApp(ctx, "shop")
			must(t, err)
			if got.Version != v || got.TargetRelease != 1 {
				t.Errorf("in tx: Version=%d TargetRelease=%d, want %d and 1", got.Version, got.TargetRelease, v)
			}
			rs, err := tx.ListReleases(ctx, "shop")
			must(t, err)
			if len(rs) != 1 {
				t.Errorf("in tx: %d releases, want 1", len(rs))
			}
			rev, err := tx.AppendEvent(ctx, testEvent(1))
			must(t, err)
			last, err := tx.LastRevision(ctx)
			must(t, err)
			es, err := tx.ListEvents(ctx, 0, 0)
			must(t, err)
			if last != rev || len(es) != 1 {
				t.Errorf("in tx: LastRevision=%d (want %d), %d events (want 1)", last, rev, len(es))
			}
			return nil
		}))
	}},
	{desc: "tx/rollback on error", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("old")))
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := writeAll(t, tx); err != nil {
				t.Errorf("writeAll: %v", err)
			}
			return errBoom
		})
		wantErr(t, "InTx", err, errBoom)
		checkUntouched(t, s)
	}},
	{desc: "tx/rollback on a store error", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("old")))
		err := s.InTx(ctx, func(tx store.Tx) error {
			if err := writeAll(t, tx); err != nil {
				t.Errorf("writeAll: %v", err)
			}
			return tx.CreateApp(ctx, testApp("old"))
		})
		wantErr(t, "InTx", err, store.ErrExists)
		checkUntouched(t, s)
	}},
	{desc: "tx/rollback on panic", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateApp(ctx, testApp("old")))
		func() {
			defer func() {
				if r := recover(); r != errBoom {
					t.Errorf("recovered %v, want the panic to go on with errBoom", r)
				}
			}()
			_ = s.InTx(ctx, func(tx store.Tx) error {
				if err := writeAll(t, tx); err != nil {
					t.Errorf("writeAll: %v", err)
				}
				panic(errBoom)
			})
			t.Error("InTx returned after fn panicked")
		}()
		checkUntouched(t, s)
		// The store is still usable: nothing holds the transaction open.
		must(t, s.InTx(ctx, func(tx store.Tx) error { return tx.CreateApp(ctx, testApp("after")) }))
		must(t, s.CreateApp(ctx, testApp("after2")))
	}},
	{desc: "tx/uncommitted writes are not visible outside", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.InTx(ctx, func(tx store.Tx) error {
			must(t, tx.CreateApp(ctx, testApp("shop")))
			// A read outside the transaction must not see it (on a
			// backend with one writer it does not block either).
			_, err := s.GetApp(ctx, "shop")
			wantErr(t, "GetApp outside the tx", err, store.ErrNotFound)
			return nil
		}))
		if _, err := s.GetApp(ctx, "shop"); err != nil {
			t.Errorf("GetApp after commit: %v", err)
		}
	}},
}
