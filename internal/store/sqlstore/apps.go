package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

const appColumns = `name, latest_release, target_release, ports, deleting, status, version, created_at, updated_at, canary, team, env`

func (o ops) CreateApp(ctx context.Context, a store.App) error {
	if a.Name == "" {
		return fmt.Errorf("app name: must not be empty: %w", store.ErrInvalid)
	}
	ports, err := marshal("app ports", a.Ports)
	if err != nil {
		return err
	}
	status, err := marshal("app status", a.Status)
	if err != nil {
		return err
	}
	canary, err := encodeCanary(a.Canary)
	if err != nil {
		return err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.Name, a.LatestRelease, a.TargetRelease, ports, a.Deleting, status, a.Version,
		FormatTime(a.CreatedAt), FormatTime(a.UpdatedAt), canary, a.Team, a.Env)
	if err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("app %q", a.Name), "")
	}
	return nil
}

func (o ops) GetApp(ctx context.Context, name string) (store.App, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE name = ?`, name)
	a, err := scanApp(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.App{}, fmt.Errorf("app %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.App{}, fmt.Errorf("store: get app %q: %w", name, err)
	}
	return a, nil
}

func (o ops) ListApps(ctx context.Context) ([]store.App, error) {
	return o.queryApps(ctx, `SELECT `+appColumns+` FROM apps ORDER BY name`)
}

// queryApps runs a SELECT of appColumns and reads its rows.
func (o ops) queryApps(ctx context.Context, query string, args ...any) ([]store.App, error) {
	rows, err := o.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list apps: %w", err)
	}
	defer rows.Close()
	apps := []store.App{} // empty, not nil: encodes as [] rather than null
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list apps: %w", err)
		}
		apps = append(apps, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list apps: %w", err)
	}
	return apps, nil
}

func (o ops) UpdateApp(ctx context.Context, a store.App) (int64, error) {
	ports, err := marshal("app ports", a.Ports)
	if err != nil {
		return 0, err
	}
	status, err := marshal("app status", a.Status)
	if err != nil {
		return 0, err
	}
	canary, err := encodeCanary(a.Canary)
	if err != nil {
		return 0, err
	}
	// The version check and the bump are one statement, so two racing
	// updates from the same version cannot both match, whatever the
	// isolation level.
	var version int64
	err = o.q.QueryRowContext(ctx, `UPDATE apps
SET latest_release = ?, target_release = ?, ports = ?, deleting = ?, status = ?, canary = ?, team = ?, env = ?, updated_at = ?, version = version + 1
WHERE name = ? AND version = ?
RETURNING version`,
		a.LatestRelease, a.TargetRelease, ports, a.Deleting, status, canary, a.Team, a.Env, FormatTime(a.UpdatedAt),
		a.Name, a.Version).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, o.whyNoApp(ctx, a.Name, a.Version)
	}
	if err != nil {
		return 0, fmt.Errorf("store: update app %q: %w", a.Name, err)
	}
	return version, nil
}

// whyNoApp tells a missing app from a stale version after an update
// matched no row.
func (o ops) whyNoApp(ctx context.Context, name string, version int64) error {
	var current int64
	err := o.q.QueryRowContext(ctx, `SELECT version FROM apps WHERE name = ?`, name).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("app %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: update app %q: %w", name, err)
	}
	return fmt.Errorf("app %q: version %d, stored %d: %w", name, version, current, store.ErrConflict)
}

func (o ops) DeleteApp(ctx context.Context, name string) error {
	// Releases go with the app (ON DELETE CASCADE).
	res, err := o.q.ExecContext(ctx, `DELETE FROM apps WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: delete app %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: delete app %q: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("app %q: %w", name, store.ErrNotFound)
	}
	return nil
}

func scanApp(s scanner) (store.App, error) {
	var (
		a                    store.App
		ports, status        string
		createdAt, updatedAt string
		canary               *string
	)
	if err := s.Scan(&a.Name, &a.LatestRelease, &a.TargetRelease, &ports, &a.Deleting, &status,
		&a.Version, &createdAt, &updatedAt, &canary, &a.Team, &a.Env); err != nil {
		return store.App{}, err
	}
	var err error
	if a.Canary, err = decodeCanary(canary); err != nil {
		return store.App{}, err
	}
	if err = unmarshal("apps.ports", ports, &a.Ports); err != nil {
		return store.App{}, err
	}
	if err = unmarshal("apps.status", status, &a.Status); err != nil {
		return store.App{}, err
	}
	if a.CreatedAt, err = parseTime("apps.created_at", createdAt); err != nil {
		return store.App{}, err
	}
	if a.UpdatedAt, err = parseTime("apps.updated_at", updatedAt); err != nil {
		return store.App{}, err
	}
	return a, nil
}
