package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

const configColumns = `app, env, version, entries, files, author, comment, rollback_of, created_at`

func (o ops) CreateConfigVersion(ctx context.Context, v store.ConfigVersion) error {
	what := fmt.Sprintf("config %s/%s/%d", v.App, v.Env, v.Version)
	switch {
	case v.App == "":
		return fmt.Errorf("%s: app: must not be empty: %w", what, store.ErrInvalid)
	case v.Env == "":
		return fmt.Errorf("%s: env: must not be empty: %w", what, store.ErrInvalid)
	case v.Version < 1:
		return fmt.Errorf("%s: version: must be at least 1, got %d: %w", what, v.Version, store.ErrInvalid)
	}
	entries := v.Entries
	if entries == nil {
		entries = map[string]string{}
	}
	files := v.Files
	if files == nil {
		files = map[string]string{}
	}
	e, err := marshal(what+": entries", entries)
	if err != nil {
		return err
	}
	f, err := marshal(what+": files", files)
	if err != nil {
		return err
	}
	_, err = o.q.ExecContext(ctx, `INSERT INTO config_versions (`+configColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.App, v.Env, v.Version, e, f, v.Author, v.Comment, v.RollbackOf, FormatTime(v.CreatedAt))
	if err != nil {
		return o.mapErr(err, "create", what, fmt.Sprintf("app %q", v.App))
	}
	return nil
}

func (o ops) GetConfigVersion(ctx context.Context, app, env string, version int) (store.ConfigVersion, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+configColumns+` FROM config_versions WHERE app = ? AND env = ? AND version = ?`, app, env, version)
	v, err := scanConfig(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ConfigVersion{}, fmt.Errorf("config %s/%s/%d: %w", app, env, version, store.ErrNotFound)
	}
	if err != nil {
		return store.ConfigVersion{}, fmt.Errorf("store: get config %s/%s/%d: %w", app, env, version, err)
	}
	return v, nil
}

func (o ops) LatestConfigVersion(ctx context.Context, app, env string) (store.ConfigVersion, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+configColumns+` FROM config_versions WHERE app = ? AND env = ? ORDER BY version DESC LIMIT 1`, app, env)
	v, err := scanConfig(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ConfigVersion{}, fmt.Errorf("config %s/%s: %w", app, env, store.ErrNotFound)
	}
	if err != nil {
		return store.ConfigVersion{}, fmt.Errorf("store: latest config %s/%s: %w", app, env, err)
	}
	return v, nil
}

func (o ops) ListConfigVersions(ctx context.Context, app, env string) ([]store.ConfigVersion, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+configColumns+` FROM config_versions WHERE app = ? AND env = ? ORDER BY version`, app, env)
	if err != nil {
		return nil, fmt.Errorf("store: list config %s/%s: %w", app, env, err)
	}
	defer rows.Close()
	out := []store.ConfigVersion{}
	for rows.Next() {
		v, err := scanConfig(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list config %s/%s: %w", app, env, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list config %s/%s: %w", app, env, err)
	}
	return out, nil
}

func scanConfig(sc scanner) (store.ConfigVersion, error) {
	var (
		v                       store.ConfigVersion
		entries, files, created string
	)
	if err := sc.Scan(&v.App, &v.Env, &v.Version, &entries, &files, &v.Author, &v.Comment, &v.RollbackOf, &created); err != nil {
		return store.ConfigVersion{}, err
	}
	if err := unmarshal("config_versions.entries", entries, &v.Entries); err != nil {
		return store.ConfigVersion{}, err
	}
	if err := unmarshal("config_versions.files", files, &v.Files); err != nil {
		return store.ConfigVersion{}, err
	}
	var err error
	if v.CreatedAt, err = parseTime("config_versions.created_at", created); err != nil {
		return store.ConfigVersion{}, err
	}
	return v, nil
}
