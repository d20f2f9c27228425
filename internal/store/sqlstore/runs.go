package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/berthdev/berth/internal/store"
)

const runColumns = `id, app, team, number, trigger, ref, commit_sha, before_sha, params, detail, rerun_of, created_by,
state, reason, exit_code, cancel_requested, steps, version, created_at, started_at, finished_at, updated_at`

func (o ops) CreateRun(ctx context.Context, r store.Run) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("run id: must not be empty: %w", store.ErrInvalid)
	case r.App == "":
		return fmt.Errorf("run %q: app: must not be empty: %w", r.ID, store.ErrInvalid)
	case r.Number <= 0:
		return fmt.Errorf("run %q: number: must be positive, got %d: %w", r.ID, r.Number, store.ErrInvalid)
	}
	params, err := marshal("run params", nonNilMap(r.Params))
	if err != nil {
		return err
	}
	detail, err := rawJSON("run detail", r.Detail)
	if err != nil {
		return err
	}
	steps, err := marshal("run steps", nonNilSteps(r.Steps))
	if err != nil {
		return err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.App, r.Team, r.Number, r.Trigger, r.Ref, r.Commit, r.Before, params, detail, r.RerunOf, r.CreatedBy,
		r.State, r.Reason, r.ExitCode, r.CancelRequested, steps, r.Version,
		FormatTime(r.CreatedAt), FormatTime(r.StartedAt), FormatTime(r.FinishedAt), FormatTime(r.UpdatedAt))
	if err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("run %q (%s #%d)", r.ID, r.App, r.Number), fmt.Sprintf("app %q", r.App))
	}
	return nil
}

func (o ops) GetRun(ctx context.Context, id string) (store.Run, error) {
	r, err := scanRun(o.q.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Run{}, fmt.Errorf("run %q: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("store: get run %q: %w", id, err)
	}
	return r, nil
}

func (o ops) ListRuns(ctx context.Context, f store.RunFilter) ([]store.Run, error) {
	var (
		where []string
		args  []any
	)
	if f.App != "" {
		where = append(where, "app = ?")
		args = append(args, f.App)
	}
	if len(f.States) > 0 {
		where = append(where, "state IN ("+marks(len(f.States))+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	}
	if f.Teams != nil {
		if len(f.Teams) == 0 {
			return []store.Run{}, nil
		}
		where = append(where, "team IN ("+marks(len(f.Teams))+")")
		for _, t := range f.Teams {
			args = append(args, t)
		}
	}
	q := `SELECT ` + runColumns + ` FROM runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = noLimit
	}
	q += " ORDER BY created_at DESC, app, number DESC LIMIT ?"
	args = append(args, limit)
	rows, err := o.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	defer rows.Close()
	out := []store.Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list runs: %w", err)
	}
	return out, nil
}

func (o ops) UpdateRun(ctx context.Context, r store.Run) (int64, error) {
	steps, err := marshal("run steps", nonNilSteps(r.Steps))
	if err != nil {
		return 0, err
	}
	res, err := o.q.ExecContext(ctx, `UPDATE runs SET ref = ?, commit_sha = ?, state = ?, reason = ?, exit_code = ?, cancel_requested = ?, steps = ?,
started_at = ?, finished_at = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`,
		r.Ref, r.Commit, r.State, r.Reason, r.ExitCode, r.CancelRequested, steps,
		FormatTime(r.StartedAt), FormatTime(r.FinishedAt), FormatTime(r.UpdatedAt), r.ID, r.Version)
	if err != nil {
		return 0, fmt.Errorf("store: update run %q: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: update run %q: %w", r.ID, err)
	}
	if n == 0 {
		var v int64
		err := o.q.QueryRowContext(ctx, `SELECT version FROM runs WHERE id = ?`, r.ID).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("run %q: %w", r.ID, store.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("store: update run %q: %w", r.ID, err)
		}
		return 0, fmt.Errorf("run %q: version %d, stored %d: %w", r.ID, r.Version, v, store.ErrConflict)
	}
	return r.Version + 1, nil
}

func (o ops) LastRunNumber(ctx context.Context, app string) (int, error) {
	var n int
	if err := o.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(number), 0) FROM runs WHERE app = ?`, app).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: last run number of %q: %w", app, err)
	}
	return n, nil
}

func scanRun(s scanner) (store.Run, error) {
	var (
		r                                   store.Run
		params, steps                       string
		detail                              *string
		created, started, finished, updated string
	)
	if err := s.Scan(&r.ID, &r.App, &r.Team, &r.Number, &r.Trigger, &r.Ref, &r.Commit, &r.Before, &params, &detail,
		&r.RerunOf, &r.CreatedBy, &r.State, &r.Reason, &r.ExitCode, &r.CancelRequested, &steps, &r.Version,
		&created, &started, &finished, &updated); err != nil {
		return store.Run{}, err
	}
	r.Detail = fromRawJSON(detail)
	if err := unmarshal("runs.params", params, &r.Params); err != nil {
		return store.Run{}, err
	}
	if err := unmarshal("runs.steps", steps, &r.Steps); err != nil {
		return store.Run{}, err
	}
	for i := range r.Steps {
		r.Steps[i].StartedAt = r.Steps[i].StartedAt.UTC()
		r.Steps[i].FinishedAt = r.Steps[i].FinishedAt.UTC()
	}
	var err error
	if r.CreatedAt, err = parseTime("runs.created_at", created); err != nil {
		return store.Run{}, err
	}
	if r.StartedAt, err = parseTime("runs.started_at", started); err != nil {
		return store.Run{}, err
	}
	if r.FinishedAt, err = parseTime("runs.finished_at", finished); err != nil {
		return store.Run{}, err
	}
	if r.UpdatedAt, err = parseTime("runs.updated_at", updated); err != nil {
		return store.Run{}, err
	}
	return r, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func nonNilSteps(s []store.RunStep) []store.RunStep {
	if s == nil {
		return []store.RunStep{}
	}
	return s
}
