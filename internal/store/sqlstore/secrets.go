package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/store"
)

const (
	secretColumns        = `app, name, team, envelope, key_id, version, created_at, updated_at`
	secretVersionColumns = `app, name, version, team, envelope, key_id, created_at`
)

func checkSecret(s store.Secret) error {
	what := fmt.Sprintf("secret %s/%s", s.App, s.Name)
	switch {
	case s.App == "":
		return fmt.Errorf("%s: app: must not be empty: %w", what, store.ErrInvalid)
	case s.Name == "":
		return fmt.Errorf("%s: name: must not be empty: %w", what, store.ErrInvalid)
	case s.Envelope == "":
		return fmt.Errorf("%s: envelope: must not be empty: %w", what, store.ErrInvalid)
	case s.KeyID == "":
		return fmt.Errorf("%s: key id: must not be empty: %w", what, store.ErrInvalid)
	}
	return nil
}

func (o ops) CreateSecret(ctx context.Context, s store.Secret) error {
	if err := checkSecret(s); err != nil {
		return err
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO secrets (`+secretColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.App, s.Name, s.Team, s.Envelope, s.KeyID, s.Version, FormatTime(s.CreatedAt), FormatTime(s.UpdatedAt))
	if err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("secret %s/%s", s.App, s.Name), fmt.Sprintf("app %q", s.App))
	}
	return o.keepVersion(ctx, s, s.Version, s.CreatedAt)
}

func (o ops) UpdateSecret(ctx context.Context, s store.Secret) (int64, error) {
	if err := checkSecret(s); err != nil {
		return 0, err
	}
	var version int64
	err := o.q.QueryRowContext(ctx, `UPDATE secrets
SET team = ?, envelope = ?, key_id = ?, updated_at = ?, version = version + 1
WHERE app = ? AND name = ? AND version = ?
RETURNING version`,
		s.Team, s.Envelope, s.KeyID, FormatTime(s.UpdatedAt), s.App, s.Name, s.Version).Scan(&version)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, o.whyNoSecret(ctx, s)
	}
	if err != nil {
		return 0, fmt.Errorf("store: update secret %s/%s: %w", s.App, s.Name, err)
	}
	if err := o.keepVersion(ctx, s, version, s.UpdatedAt); err != nil {
		return 0, err
	}
	return version, nil
}

// keepVersion records the value just written to s as its version n.
func (o ops) keepVersion(ctx context.Context, s store.Secret, n int64, at time.Time) error {
	_, err := o.q.ExecContext(ctx, `INSERT INTO secret_versions (`+secretVersionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		s.App, s.Name, n, s.Team, s.Envelope, s.KeyID, FormatTime(at))
	if err != nil {
		return o.mapErr(err, "keep", fmt.Sprintf("version %d of secret %s/%s", n, s.App, s.Name), fmt.Sprintf("secret %s/%s", s.App, s.Name))
	}
	return nil
}

func (o ops) RekeySecret(ctx context.Context, s store.Secret) error {
	if err := checkSecret(s); err != nil {
		return err
	}
	res, err := o.q.ExecContext(ctx, `UPDATE secrets SET envelope = ?, key_id = ? WHERE app = ? AND name = ? AND version = ?`,
		s.Envelope, s.KeyID, s.App, s.Name, s.Version)
	if err != nil {
		return fmt.Errorf("store: rekey secret %s/%s: %w", s.App, s.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return o.whyNoSecret(ctx, s)
	}
	return nil
}

// whyNoSecret tells a missing secret from a stale version.
func (o ops) whyNoSecret(ctx context.Context, s store.Secret) error {
	var current int64
	err := o.q.QueryRowContext(ctx, `SELECT version FROM secrets WHERE app = ? AND name = ?`, s.App, s.Name).Scan(&current)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("secret %s/%s: %w", s.App, s.Name, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("store: secret %s/%s: %w", s.App, s.Name, err)
	}
	return fmt.Errorf("secret %s/%s: version %d, stored %d: %w", s.App, s.Name, s.Version, current, store.ErrConflict)
}

func (o ops) GetSecret(ctx context.Context, app, name string) (store.Secret, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+secretColumns+` FROM secrets WHERE app = ? AND name = ?`, app, name)
	s, err := scanSecret(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Secret{}, fmt.Errorf("secret %s/%s: %w", app, name, store.ErrNotFound)
	}
	if err != nil {
		return store.Secret{}, fmt.Errorf("store: get secret %s/%s: %w", app, name, err)
	}
	return s, nil
}

func (o ops) ListSecrets(ctx context.Context, app string) ([]store.Secret, error) {
	q := `SELECT ` + secretColumns + ` FROM secrets WHERE app = ? ORDER BY name`
	args := []any{app}
	if app == "" {
		q, args = `SELECT `+secretColumns+` FROM secrets ORDER BY app, name`, nil
	}
	rows, err := o.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list secrets of %q: %w", app, err)
	}
	defer rows.Close()
	out := []store.Secret{}
	for rows.Next() {
		s, err := scanSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list secrets of %q: %w", app, err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list secrets of %q: %w", app, err)
	}
	return out, nil
}

func (o ops) DeleteSecret(ctx context.Context, app, name string) error {
	// The foreign key removes them too; said here so that a backend
	// without it does the same.
	if _, err := o.q.ExecContext(ctx, `DELETE FROM secret_versions WHERE app = ? AND name = ?`, app, name); err != nil {
		return fmt.Errorf("store: delete versions of secret %s/%s: %w", app, name, err)
	}
	res, err := o.q.ExecContext(ctx, `DELETE FROM secrets WHERE app = ? AND name = ?`, app, name)
	if err != nil {
		return fmt.Errorf("store: delete secret %s/%s: %w", app, name, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("secret %s/%s: %w", app, name, store.ErrNotFound)
	}
	return nil
}

func scanSecret(sc scanner) (store.Secret, error) {
	var (
		s                    store.Secret
		createdAt, updatedAt string
	)
	if err := sc.Scan(&s.App, &s.Name, &s.Team, &s.Envelope, &s.KeyID, &s.Version, &createdAt, &updatedAt); err != nil {
		return store.Secret{}, err
	}
	var err error
	if s.CreatedAt, err = parseTime("secrets.created_at", createdAt); err != nil {
		return store.Secret{}, err
	}
	if s.UpdatedAt, err = parseTime("secrets.updated_at", updatedAt); err != nil {
		return store.Secret{}, err
	}
	return s, nil
}

func (o ops) GetSecretVersion(ctx context.Context, app, name string, version int64) (store.SecretVersion, error) {
	row := o.q.QueryRowContext(ctx, `SELECT `+secretVersionColumns+` FROM secret_versions WHERE app = ? AND name = ? AND version = ?`,
		app, name, version)
	v, err := scanSecretVersion(row)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SecretVersion{}, fmt.Errorf("version %d of secret %s/%s: %w", version, app, name, store.ErrNotFound)
	}
	if err != nil {
		return store.SecretVersion{}, fmt.Errorf("store: get version %d of secret %s/%s: %w", version, app, name, err)
	}
	return v, nil
}

func (o ops) ListSecretVersions(ctx context.Context, app string) ([]store.SecretVersion, error) {
	q := `SELECT ` + secretVersionColumns + ` FROM secret_versions WHERE app = ? ORDER BY name, version`
	args := []any{app}
	if app == "" {
		q, args = `SELECT `+secretVersionColumns+` FROM secret_versions ORDER BY app, name, version`, nil
	}
	rows, err := o.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: list secret versions of %q: %w", app, err)
	}
	defer rows.Close()
	out := []store.SecretVersion{}
	for rows.Next() {
		v, err := scanSecretVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list secret versions of %q: %w", app, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list secret versions of %q: %w", app, err)
	}
	return out, nil
}

func (o ops) RekeySecretVersion(ctx context.Context, v store.SecretVersion) error {
	what := fmt.Sprintf("version %d of secret %s/%s", v.Version, v.App, v.Name)
	switch {
	case v.Envelope == "":
		return fmt.Errorf("%s: envelope: must not be empty: %w", what, store.ErrInvalid)
	case v.KeyID == "":
		return fmt.Errorf("%s: key id: must not be empty: %w", what, store.ErrInvalid)
	}
	res, err := o.q.ExecContext(ctx, `UPDATE secret_versions SET envelope = ?, key_id = ? WHERE app = ? AND name = ? AND version = ?`,
		v.Envelope, v.KeyID, v.App, v.Name, v.Version)
	if err != nil {
		return fmt.Errorf("store: rekey %s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

func scanSecretVersion(sc scanner) (store.SecretVersion, error) {
	var (
		v         store.SecretVersion
		createdAt string
	)
	if err := sc.Scan(&v.App, &v.Name, &v.Version, &v.Team, &v.Envelope, &v.KeyID, &createdAt); err != nil {
		return store.SecretVersion{}, err
	}
	var err error
	if v.CreatedAt, err = parseTime("secret_versions.created_at", createdAt); err != nil {
		return store.SecretVersion{}, err
	}
	return v, nil
}
