package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) GetLoginThrottle(ctx context.Context, account, client string) (store.LoginThrottle, error) {
	t := store.LoginThrottle{Account: account, Client: client}
	var failures, locked, last string
	err := o.q.QueryRowContext(ctx, `SELECT failures, locked_until, lockouts, last_failure FROM login_throttles WHERE account = ? AND client = ?`,
		account, client).Scan(&failures, &locked, &t.Lockouts, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return store.LoginThrottle{}, fmt.Errorf("login throttle: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.LoginThrottle{}, fmt.Errorf("store: get login throttle: %w", err)
	}
	var ts []string
	if err := unmarshal("login_throttles.failures", failures, &ts); err != nil {
		return store.LoginThrottle{}, err
	}
	for _, s := range ts {
		f, err := parseTime("login_throttles.failures", s)
		if err != nil {
			return store.LoginThrottle{}, err
		}
		t.Failures = append(t.Failures, f)
	}
	if t.LockedUntil, err = parseOptTime("login_throttles.locked_until", locked); err != nil {
		return store.LoginThrottle{}, err
	}
	if t.LastFailure, err = parseOptTime("login_throttles.last_failure", last); err != nil {
		return store.LoginThrottle{}, err
	}
	return t, nil
}

func (o ops) PutLoginThrottle(ctx context.Context, t store.LoginThrottle) error {
	if err := required("login throttle", "account", t.Account, "client", t.Client); err != nil {
		return err
	}
	// Times in the fixed-width form every column uses, so the array
	// compares and reads back the same on every backend.
	ts := make([]string, len(t.Failures))
	for i, f := range t.Failures {
		ts[i] = FormatTime(f)
	}
	failures, err := marshal("login throttle failures", ts)
	if err != nil {
		return err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO login_throttles (account, client, failures, locked_until, lockouts, last_failure)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (account, client) DO UPDATE SET failures = excluded.failures, locked_until = excluded.locked_until,
	lockouts = excluded.lockouts, last_failure = excluded.last_failure`,
		t.Account, t.Client, failures, formatOptTime(t.LockedUntil), t.Lockouts, formatOptTime(t.LastFailure))
	if err != nil {
		return fmt.Errorf("store: put login throttle: %w", err)
	}
	return nil
}

func (o ops) DeleteLoginThrottle(ctx context.Context, account, client string) error {
	if _, err := o.q.ExecContext(ctx, `DELETE FROM login_throttles WHERE account = ? AND client = ?`, account, client); err != nil {
		return fmt.Errorf("store: delete login throttle: %w", err)
	}
	return nil
}

func (o ops) PruneLoginThrottles(ctx context.Context, now, idleBefore time.Time) (int, error) {
	res, err := o.q.ExecContext(ctx, `DELETE FROM login_throttles WHERE last_failure < ? AND locked_until <= ?`,
		FormatTime(idleBefore), FormatTime(now))
	if err != nil {
		return 0, fmt.Errorf("store: prune login throttles: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune login throttles: %w", err)
	}
	return int(n), nil
}

func (db *Store) GetLoginThrottle(ctx context.Context, account, client string) (store.LoginThrottle, error) {
	return db.reader().GetLoginThrottle(ctx, account, client)
}

func (db *Store) PutLoginThrottle(ctx context.Context, t store.LoginThrottle) error {
	return db.inWrite(ctx, func(o ops) error { return o.PutLoginThrottle(ctx, t) })
}

func (db *Store) DeleteLoginThrottle(ctx context.Context, account, client string) error {
	return db.inWrite(ctx, func(o ops) error { return o.DeleteLoginThrottle(ctx, account, client) })
}

func (db *Store) PruneLoginThrottles(ctx context.Context, now, idleBefore time.Time) (n int, err error) {
	err = db.inWrite(ctx, func(o ops) error {
		n, err = o.PruneLoginThrottles(ctx, now, idleBefore)
		return err
	})
	return n, err
}
