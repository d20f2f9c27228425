package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

const tokenColumns = `id, name, hash, created_at, kind, "user", team, role, scope, last4, expires_at, last_used_at, revoked_at`

func (o ops) CreateToken(ctx context.Context, t store.Token) error {
	switch {
	case t.ID == "":
		return fmt.Errorf("token id: must not be empty: %w", store.ErrInvalid)
	case t.Hash == "":
		return fmt.Errorf("token %q: hash: must not be empty: %w", t.ID, store.ErrInvalid)
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash, FormatTime(t.CreatedAt), t.Kind, t.User, t.Team, t.Role, t.Scope, t.Last4,
		formatOptTime(t.ExpiresAt), formatOptTime(t.LastUsedAt), formatOptTime(t.RevokedAt))
	if err != nil {
		// The message names the ID only: the hash is a credential's digest.
		return o.mapErr(err, "create", fmt.Sprintf("token %q", t.ID), "")
	}
	return nil
}

func (o ops) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	return o.getToken(ctx, `hash = ?`, hash, "token")
}

func (o ops) GetToken(ctx context.Context, id string) (store.Token, error) {
	return o.getToken(ctx, `id = ?`, id, fmt.Sprintf("token %q", id))
}

func (o ops) getToken(ctx context.Context, where, arg, what string) (store.Token, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE `+where, arg)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("store: get token: %w", err)
	}
	return t, nil
}

func (o ops) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	defer rows.Close()
	ts := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list tokens: %w", err)
	}
	return ts, nil
}

func (o ops) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := o.q.ExecContext(ctx, `UPDATE tokens SET revoked_at = CASE WHEN revoked_at = '' THEN ? ELSE revoked_at END WHERE id = ?`,
		FormatTime(at), id)
	return affected(res, err, fmt.Sprintf("token %q", id))
}

func (o ops) TouchToken(ctx context.Context, id string, at time.Time) error {
	ts := FormatTime(at)
	res, err := o.q.ExecContext(ctx, `UPDATE tokens SET last_used_at = CASE WHEN last_used_at < ? THEN ? ELSE last_used_at END WHERE id = ?`,
		ts, ts, id)
	return affected(res, err, fmt.Sprintf("token %q", id))
}

// affected turns "no row matched" into ErrNotFound.
func affected(res sql.Result, err error, what string) error {
	if err != nil {
		return fmt.Errorf("store: update %s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: update %s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func scanToken(s scanner) (store.Token, error) {
	var (
		t                                   store.Token
		createdAt, expires, used, revokedAt string
	)
	if err := s.Scan(&t.ID, &t.Name, &t.Hash, &createdAt, &t.Kind, &t.User, &t.Team, &t.Role, &t.Scope, &t.Last4,
		&expires, &used, &revokedAt); err != nil {
		return store.Token{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime("tokens.created_at", createdAt); err != nil {
		return store.Token{}, err
	}
	if t.ExpiresAt, err = parseOptTime("tokens.expires_at", expires); err != nil {
		return store.Token{}, err
	}
	if t.LastUsedAt, err = parseOptTime("tokens.last_used_at", used); err != nil {
		return store.Token{}, err
	}
	if t.RevokedAt, err = parseOptTime("tokens.revoked_at", revokedAt); err != nil {
		return store.Token{}, err
	}
	return t, nil
}

// formatOptTime stores the zero time as ” (never, or not yet).
func formatOptTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

func parseOptTime(col, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return parseTime(col, s)
}
