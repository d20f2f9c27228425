package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

const pipelineCacheColumns = `app, cache_key, digest, size, created_at, last_used_at`

func (o ops) GetPipelineCache(ctx context.Context, app, key string) (store.PipelineCache, error) {
	return queryOne(ctx, o, fmt.Sprintf("cache %q of %q", key, app), scanPipelineCache,
		`SELECT `+pipelineCacheColumns+` FROM pipeline_caches WHERE app = ? AND cache_key = ?`, app, key)
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
	return affected(res, err, fmt.Sprintf("cache %q of %q", key, app))
}

func (o ops) DeletePipelineCache(ctx context.Context, app, key, digest string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM pipeline_caches WHERE app = ? AND cache_key = ? AND digest = ?`, app, key, digest)
	return affected(res, err, fmt.Sprintf("cache %q of %q", key, app))
}

func (o ops) PrunePipelineCaches(ctx context.Context, before time.Time) ([]store.PipelineCache, error) {
	return queryAll(ctx, o, "pruned caches", scanPipelineCache,
		`DELETE FROM pipeline_caches WHERE last_used_at < ? RETURNING `+pipelineCacheColumns, FormatTime(before))
}

func (o ops) PipelineCacheDigests(ctx context.Context) ([]string, error) {
	return queryAll(ctx, o, "cache digests", scanString,
		`SELECT DISTINCT digest FROM pipeline_caches ORDER BY digest`)
}

// scanString scans a row of one text column.
func scanString(s scanner) (string, error) {
	var v string
	err := s.Scan(&v)
	return v, err
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
