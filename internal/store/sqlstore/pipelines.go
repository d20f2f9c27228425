package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

const pipelineColumns = `app, team, definition, commit_sha, schedule, last_scheduled, updated_at`

func (o ops) PutPipeline(ctx context.Context, p store.PipelineState) error {
	if p.App == "" {
		return fmt.Errorf("pipeline app: must not be empty: %w", store.ErrInvalid)
	}
	def, err := rawJSON("pipeline definition", p.Definition)
	if err != nil {
		return err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO pipelines (`+pipelineColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (app) DO UPDATE SET team = excluded.team, definition = excluded.definition, commit_sha = excluded.commit_sha,
schedule = excluded.schedule, last_scheduled = excluded.last_scheduled, updated_at = excluded.updated_at`,
		p.App, p.Team, def, p.Commit, p.Schedule, FormatTime(p.LastScheduled), FormatTime(p.UpdatedAt))
	if err != nil {
		return o.mapErr(err, "put", fmt.Sprintf("pipeline of %q", p.App), fmt.Sprintf("app %q", p.App))
	}
	return nil
}

func (o ops) GetPipeline(ctx context.Context, app string) (store.PipelineState, error) {
	p, err := scanPipeline(o.q.QueryRowContext(ctx, `SELECT `+pipelineColumns+` FROM pipelines WHERE app = ?`, app))
	if errors.Is(err, sql.ErrNoRows) {
		return store.PipelineState{}, fmt.Errorf("pipeline of %q: %w", app, store.ErrNotFound)
	}
	if err != nil {
		return store.PipelineState{}, fmt.Errorf("store: get pipeline %q: %w", app, err)
	}
	return p, nil
}

func (o ops) ListPipelines(ctx context.Context) ([]store.PipelineState, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+pipelineColumns+` FROM pipelines ORDER BY app`)
	if err != nil {
		return nil, fmt.Errorf("store: list pipelines: %w", err)
	}
	defer rows.Close()
	out := []store.PipelineState{}
	for rows.Next() {
		p, err := scanPipeline(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list pipelines: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list pipelines: %w", err)
	}
	return out, nil
}

func scanPipeline(s scanner) (store.PipelineState, error) {
	var (
		p             store.PipelineState
		def           *string
		last, updated string
	)
	if err := s.Scan(&p.App, &p.Team, &def, &p.Commit, &p.Schedule, &last, &updated); err != nil {
		return store.PipelineState{}, err
	}
	p.Definition = fromRawJSON(def)
	var err error
	if p.LastScheduled, err = parseTime("pipelines.last_scheduled", last); err != nil {
		return store.PipelineState{}, err
	}
	if p.UpdatedAt, err = parseTime("pipelines.updated_at", updated); err != nil {
		return store.PipelineState{}, err
	}
	return p, nil
}
