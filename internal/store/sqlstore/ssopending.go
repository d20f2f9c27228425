package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) PutSSOPending(ctx context.Context, p store.SSOPending, limit int) error {
	if err := required("sso pending", "key", p.Key, "kind", p.Kind); err != nil {
		return err
	}
	data, err := rawJSON("sso pending data", p.Data)
	if err != nil {
		return err
	}
	// Expired entries go first, on every put: the table only grows here,
	// so it never holds more than what is in flight and unexpired, and no
	// background work is needed to bound it. The index on expires_at keeps
	// this a range delete.
	if _, err := o.q.ExecContext(ctx, `DELETE FROM sso_pending WHERE expires_at <= ?`, FormatTime(p.CreatedAt)); err != nil {
		return fmt.Errorf("store: prune sso pending: %w", err)
	}
	// Counting and inserting are atomic: write transactions are
	// serialised on every backend.
	var n int
	if err := o.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sso_pending WHERE kind = ?`, p.Kind).Scan(&n); err != nil {
		return fmt.Errorf("store: count sso pending: %w", err)
	}
	if n >= limit {
		return fmt.Errorf("sso pending %s: %d in flight: %w", p.Kind, n, store.ErrFull)
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO sso_pending (hash, kind, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		p.Key, p.Kind, data, FormatTime(p.CreatedAt), FormatTime(p.ExpiresAt))
	if err != nil {
		// The message names no key: it is a credential's digest.
		return o.mapErr(err, "create", "sso pending "+p.Kind, "")
	}
	return nil
}

func (o ops) TakeSSOPending(ctx context.Context, kind, key string, now time.Time) (store.SSOPending, error) {
	// One statement deletes and returns, so of two takes racing for one
	// entry (two replicas answering a replayed callback) only one gets a
	// row.
	var (
		p                  = store.SSOPending{Key: key, Kind: kind}
		data               *string
		created, expiresAt string
	)
	err := o.q.QueryRowContext(ctx, `DELETE FROM sso_pending WHERE hash = ? AND kind = ? RETURNING data, created_at, expires_at`,
		key, kind).Scan(&data, &created, &expiresAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SSOPending{}, fmt.Errorf("sso pending %s: %w", kind, store.ErrNotFound)
	}
	if err != nil {
		return store.SSOPending{}, fmt.Errorf("store: take sso pending: %w", err)
	}
	p.Data = fromRawJSON(data)
	if p.CreatedAt, err = parseTime("sso_pending.created_at", created); err != nil {
		return store.SSOPending{}, err
	}
	if p.ExpiresAt, err = parseTime("sso_pending.expires_at", expiresAt); err != nil {
		return store.SSOPending{}, err
	}
	if !now.Before(p.ExpiresAt) {
		return store.SSOPending{}, fmt.Errorf("sso pending %s: %w", kind, errSSOExpired)
	}
	return p, nil
}

// errSSOExpired is the ErrNotFound of an entry that was there but had
// expired: its delete is kept (see *Store.TakeSSOPending).
var errSSOExpired = fmt.Errorf("expired: %w", store.ErrNotFound)

func (db *Store) PutSSOPending(ctx context.Context, p store.SSOPending, limit int) error {
	return db.inWrite(ctx, func(o ops) error { return o.PutSSOPending(ctx, p, limit) })
}

func (db *Store) TakeSSOPending(ctx context.Context, kind, key string, now time.Time) (p store.SSOPending, err error) {
	var taken error
	err = db.inWrite(ctx, func(o ops) error {
		p, taken = o.TakeSSOPending(ctx, kind, key, now)
		if errors.Is(taken, errSSOExpired) {
			return nil // commit the delete: an expired entry is gone for good
		}
		return taken
	})
	if err != nil {
		return store.SSOPending{}, err
	}
	return p, taken
}
