package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) CreateToken(ctx context.Context, t store.Token) error {
	switch {
	case t.ID == "":
		return fmt.Errorf("token id: must not be empty: %w", store.ErrInvalid)
	case t.Hash == "":
		return fmt.Errorf("token %q: hash: must not be empty: %w", t.ID, store.ErrInvalid)
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO tokens (id, name, hash, created_at) VALUES (?, ?, ?, ?)`,
		t.ID, t.Name, t.Hash, formatTime(t.CreatedAt))
	if err != nil {
		// The message names the ID only: the hash is a credential's digest.
		return mapErr(err, "create", fmt.Sprintf("token %q", t.ID), "")
	}
	return nil
}

func (o ops) GetTokenByHash(ctx context.Context, hash string) (store.Token, error) {
	row := o.q.QueryRowContext(ctx, `SELECT id, name, hash, created_at FROM tokens WHERE hash = ?`, hash)
	t, err := scanToken(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, fmt.Errorf("token: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: get token: %w", err)
	}
	return t, nil
}

func (o ops) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT id, name, hash, created_at FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	defer rows.Close()
	ts := []store.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list tokens: %w", err)
	}
	return ts, nil
}

func scanToken(s scanner) (store.Token, error) {
	var (
		t         store.Token
		createdAt string
	)
	if err := s.Scan(&t.ID, &t.Name, &t.Hash, &createdAt); err != nil {
		return store.Token{}, err
	}
	var err error
	if t.CreatedAt, err = parseTime("tokens.created_at", createdAt); err != nil {
		return store.Token{}, err
	}
	return t, nil
}
