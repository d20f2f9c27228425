package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

const pipelineCacheColumns = `app, cache_key, digest, size, created_at, last_used_at`

func (o ops) GetPipelineCache(ctx context.Context, app, key string) (store.PipelineCache, error) {
	c, err := scanPipelineCache(o.q.QueryRowContext(ctx, `SELECT `+pipelineCacheColumns+` FROM pipeline_caches WHERE app = ? AND cache_key = ?`, app, key))
	if errors.Is(err, sql.ErrNoRows) {
		return store.PipelineCache{}, fmt.Errorf("cache %q of %q: %w", key, app, store.ErrNotFound)
	}
	if err != nil {
		return store.PipelineCache{}, fmt.Errorf("store: get cache %q of %q: %w", key, app, err)
	}
	return c, nil
}

func (o ops) CreatePipelineCache(ctx context.Context, c store.PipelineCache) (bool, error) {
	switch {
	case c.App == "" || c.Key == "":
		return false, fmt.Errorf("pipeline cache: app and key must not be empty: %w", store.ErrInvalid)
	case c.Digest == "" || c.Size < 0:
		return false, fmt.Errorf("pipeline cache %q of %q: digest and size: %w", c.Key, c.App, store.ErrInvalid)
	}
	// ON CONFLICT DO NOTHING is the test-and-set: of two saves of one
	// key, exactly one inserts its row.
	res, err := o.q.ExecContext(ctx, `INSERT INTO pipeline_caches (`+pipelineCacheColumns+`) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		c.App, c.Key, c.Digest, c.Size, FormatTime(c.CreatedAt), FormatTime(c.LastUsedAt))
	if err != nil {
		return false, o.mapErr(err, "create", fmt.Sprintf("cache %q of %q", c.Key, c.App), fmt.Sprintf("app %q", c.App))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: create cache %q of %q: %w", c.Key, c.App, err)
	}
	return n == 1, nil
}

func (o ops) TouchPipelineCache(ctx context.Context, app, key string, at time.Time) error {
	// The times are fixed-width UTC text, so comparing them as text
	// compares the times: a late toucher never moves the time back.
	res, err := o.q.ExecContext(ctx, `UPDATE pipeline_caches SET last_used_at = CASE WHEN last_used_at < ? THEN ? ELSE last_used_at END WHERE app = ? AND cache_key = ?`,
		FormatTime(at), FormatTime(at), app, key)
	if err != nil {
		return fmt.Errorf("store: touch cache %q of %q: %w", key, app, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: touch cache %q of %q: %w", key, app, err)
	} else if n == 0 {
		return fmt.Errorf("cache %q of %q: %w", key, app, store.ErrNotFound)
	}
	return nil
}

func (o ops) DeletePipelineCache(ctx context.Context, app, key, digest string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM pipeline_caches WHERE app = ? AND cache_key = ? AND digest = ?`, app, key, digest)
	if err != nil {
		return fmt.Errorf("store: delete cache %q of %q: %w", key, app, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete cache %q of %q: %w", key, app, err)
	} else if n == 0 {
		return fmt.Errorf("cache %q of %q: %w", key, app, store.ErrNotFound)
	}
	return nil
}

func (o ops) PrunePipelineCaches(ctx context.Context, before time.Time) ([]store.PipelineCache, error) {
	rows, err := o.q.QueryContext(ctx, `DELETE FROM pipeline_caches WHERE last_used_at < ? RETURNING `+pipelineCacheColumns, FormatTime(before))
	if err != nil {
		return nil, fmt.Errorf("store: prune caches: %w", err)
	}
	defer rows.Close()
	out := []store.PipelineCache{}
	for rows.Next() {
		c, err := scanPipelineCache(rows)
		if err != nil {
			return nil, fmt.Errorf("store: prune caches: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: prune caches: %w", err)
	}
	return out, nil
}

func (o ops) PipelineCacheDigests(ctx context.Context) ([]string, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT DISTINCT digest FROM pipeline_caches ORDER BY digest`)
	if err != nil {
		return nil, fmt.Errorf("store: list cache digests: %w", err)
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("store: list cache digests: %w", err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list cache digests: %w", err)
	}
	return out, nil
}

func scanPipelineCache(s scanner) (store.PipelineCache, error) {
	var (
		c             store.PipelineCache
		created, used string
	)
	if err := s.Scan(&c.App, &c.Key, &c.Digest, &c.Size, &created, &used); err != nil {
		return store.PipelineCache{}, err
	}
	var err error
	if c.CreatedAt, err = parseTime("pipeline_caches.created_at", created); err != nil {
		return store.PipelineCache{}, err
	}
	if c.LastUsedAt, err = parseTime("pipeline_caches.last_used_at", used); err != nil {
		return store.PipelineCache{}, err
	}
	return c, nil
}
