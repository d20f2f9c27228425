package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

const releaseColumns = `app, number, spec, spec_hash, source, artifacts, cause, rollback_of, state, reason, message, version, created_at, updated_at, config`

func (o ops) CreateRelease(ctx context.Context, r store.Release) error {
	what := fmt.Sprintf("release %s/%d", r.App, r.Number)
	switch {
	case r.App == "":
		return fmt.Errorf("%s: app: must not be empty: %w", what, store.ErrInvalid)
	case r.Number < 1:
		return fmt.Errorf("%s: number: must be at least 1, got %d: %w", what, r.Number, store.ErrInvalid)
	}
	spec, err := rawJSON(what+": spec", r.Spec)
	if err != nil {
		return err
	}
	artifacts, err := marshal(what+": artifacts", r.Artifacts)
	if err != nil {
		return err
	}
	var config any
	if r.Config != nil {
		if config, err = marshal(what+": config", r.Config); err != nil {
			return err
		}
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO releases (`+releaseColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.App, r.Number, spec, r.SpecHash, r.Source, artifacts, r.Cause, r.RollbackOf,
		r.State, r.Reason, r.Message, r.Version, FormatTime(r.CreatedAt), FormatTime(r.UpdatedAt), config)
	if err != nil {
		return o.mapErr(err, "create", what, fmt.Sprintf("app %q", r.App))
	}
	return nil
}

func (o ops) GetRelease(ctx context.Context, app string, number int) (store.Release, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+releaseColumns+` FROM releases WHERE app = ? AND number = ?`, app, number)
	r, err := scanRelease(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Release{}, fmt.Errorf("release %s/%d: %w", app, number, store.ErrNotFound)
	}
	if err != nil {
		return store.Release{}, fmt.Errorf("store: get release %s/%d: %w", app, number, err)
	}
	return r, nil
}

func (o ops) ReleaseSources(ctx context.Context) ([]string, error) {
	return queryAll(ctx, o, "release sources", scanString, `SELECT DISTINCT source FROM releases WHERE source <> '' ORDER BY source`)
}

func (o ops) ListReleases(ctx context.Context, app string) ([]store.Release, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+releaseColumns+` FROM releases WHERE app = ? ORDER BY number`, app)
	if err != nil {
		return nil, fmt.Errorf("store: list releases of %q: %w", app, err)
	}
	defer rows.Close()
	rs := []store.Release{}
	for rows.Next() {
		r, err := scanRelease(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list releases of %q: %w", app, err)
		}
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list releases of %q: %w", app, err)
	}
	return rs, nil
}

func (o ops) UpdateRelease(ctx context.Context, r store.Release) (int64, error) {
	what := fmt.Sprintf("release %s/%d", r.App, r.Number)
	artifacts, err := marshal(what+": artifacts", r.Artifacts)
	if err != nil {
		return 0, err
	}
	// Only the mutable fields are written: a release's spec and source
	// never change once created.
	var version int64
	err = o.q.QueryRowContext(ctx, `UPDATE releases
SET artifacts = ?, state = ?, reason = ?, message = ?, updated_at = ?, version = version + 1
WHERE app = ? AND number = ? AND version = ?
RETURNING version`,
		artifacts, r.State, r.Reason, r.Message, FormatTime(r.UpdatedAt),
		r.App, r.Number, r.Version).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, o.whyNoRelease(ctx, r)
	}
	if err != nil {
		return 0, fmt.Errorf("store: update %s: %w", what, err)
	}
	return version, nil
}

// whyNoRelease tells a missing release from a stale version after an
// update matched no row.
func (o ops) whyNoRelease(ctx context.Context, r store.Release) error {
	var current int64
	err := o.q.QueryRowContext(ctx, `SELECT version FROM releases WHERE app = ? AND number = ?`, r.App, r.Number).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("release %s/%d: %w", r.App, r.Number, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: update release %s/%d: %w", r.App, r.Number, err)
	}
	return fmt.Errorf("release %s/%d: version %d, stored %d: %w", r.App, r.Number, r.Version, current, store.ErrConflict)
}

func (o ops) DeleteReleases(ctx context.Context, app string) error {
	if _, err := o.q.ExecContext(ctx, `DELETE FROM releases WHERE app = ?`, app); err != nil {
		return fmt.Errorf("store: delete releases of %q: %w", app, err)
	}
	return nil
}

func scanRelease(s scanner) (store.Release, error) {
	var (
		r                    store.Release
		spec, config         *string
		artifacts            string
		createdAt, updatedAt string
	)
	if err := s.Scan(&r.App, &r.Number, &spec, &r.SpecHash, &r.Source, &artifacts, &r.Cause, &r.RollbackOf,
		&r.State, &r.Reason, &r.Message, &r.Version, &createdAt, &updatedAt, &config); err != nil {
		return store.Release{}, err
	}
	r.Spec = fromRawJSON(spec)
	var err error
	if err = unmarshal("releases.artifacts", artifacts, &r.Artifacts); err != nil {
		return store.Release{}, err
	}
	if config != nil {
		if err = unmarshal("releases.config", *config, &r.Config); err != nil {
			return store.Release{}, err
		}
	}
	if r.CreatedAt, err = parseTime("releases.created_at", createdAt); err != nil {
		return store.Release{}, err
	}
	if r.UpdatedAt, err = parseTime("releases.updated_at", updatedAt); err != nil {
		return store.Release{}, err
	}
	return r, nil
}
