package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/identity/loginlimit"
	"github.com/berthdev/berth/internal/store"
)

// Failed password logins are counted in the store (login_throttles), so
// every server on one database sees the same count per (account, client):
// spreading guesses over replicas gains nothing. loginlimit's Policy
// decides; the store keeps one row per pair. A check is one read by
// primary key; a failure one write transaction (read, decide, write),
// atomic because write transactions are serialised on every backend; a
// success one delete.
type loginThrottle struct {
	policy loginlimit.Policy
	st     store.Store
}

// check reports whether a password of account may be tried from ip at
// now; when not, how long until it may.
func (l loginThrottle) check(ctx context.Context, account, ip string, now time.Time) (time.Duration, bool, error) {
	a, c := loginlimit.Pair(account, ip)
	t, err := l.st.GetLoginThrottle(ctx, a, c)
	if errors.Is(err, store.ErrNotFound) {
		return 0, true, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read login failures: %w", err)
	}
	wait, ok := l.policy.Wait(toRecord(t), now)
	return wait, ok, nil
}

// fail records a failed password at now and returns the lockout it
// starts, or 0.
func (l loginThrottle) fail(ctx context.Context, account, ip string, now time.Time) (time.Duration, error) {
	a, c := loginlimit.Pair(account, ip)
	var wait time.Duration
	err := l.st.InTx(ctx, func(tx store.Tx) error {
		t, err := tx.GetLoginThrottle(ctx, a, c)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A new pair is the only way the table grows, so idle pairs
			// are pruned here (an indexed range delete), not by a
			// background task: the table stays bounded by the pairs that
			// failed within ResetAfter, on one server or many.
			if _, err := tx.PruneLoginThrottles(ctx, now, l.policy.IdleBefore(now)); err != nil {
				return err
			}
			t = store.LoginThrottle{Account: a, Client: c}
		case err != nil:
			return err
		}
		var next loginlimit.Record
		next, wait = l.policy.Fail(toRecord(t), now)
		t.Failures, t.LockedUntil, t.Lockouts, t.LastFailure = next.Failures, next.LockedUntil, next.Lockouts, next.LastFailure
		return tx.PutLoginThrottle(ctx, t)
	})
	if err != nil {
		return 0, fmt.Errorf("record a failed login: %w", err)
	}
	return wait, nil
}

// succeed forgets the pair: whoever is there knows the password.
func (l loginThrottle) succeed(ctx context.Context, account, ip string) error {
	a, c := loginlimit.Pair(account, ip)
	if err := l.st.DeleteLoginThrottle(ctx, a, c); err != nil {
		return fmt.Errorf("forget login failures: %w", err)
	}
	return nil
}

func toRecord(t store.LoginThrottle) loginlimit.Record {
	return loginlimit.Record{Failures: t.Failures, LockedUntil: t.LockedUntil, Lockouts: t.Lockouts, LastFailure: t.LastFailure}
}
