package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

func (o ops) CreateEnvironment(ctx context.Context, e store.Environment) error {
	switch {
	case e.Name == "":
		return fmt.Errorf("environment name: must not be empty: %w", store.ErrInvalid)
	case e.Cluster == "" || e.Namespace == "":
		return fmt.Errorf("environment %q: cluster and namespace: must not be empty: %w", e.Name, store.ErrInvalid)
	}
	_, err := o.q.ExecContext(ctx, `INSERT INTO environments (name, team, cluster, namespace, storage_class, routing, gateway_parent, tls_secrets, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Name, e.Team, e.Cluster, e.Namespace, e.StorageClass, e.Routing, e.GatewayParent, e.TLSSecrets, FormatTime(e.CreatedAt))
	if err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("environment %q (cluster %q namespace %q)", e.Name, e.Cluster, e.Namespace), "")
	}
	return nil
}

const envColumns = `name, team, cluster, namespace, storage_class, routing, gateway_parent, tls_secrets, created_at`

func (o ops) GetEnvironment(ctx context.Context, name string) (store.Environment, error) {
	e, err := scanEnvironment(o.q.QueryRowContext(ctx, `SELECT `+envColumns+` FROM environments WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Environment{}, fmt.Errorf("environment %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Environment{}, fmt.Errorf("store: get environment %q: %w", name, err)
	}
	return e, nil
}

func (o ops) ListEnvironments(ctx context.Context) ([]store.Environment, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+envColumns+` FROM environments ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list environments: %w", err)
	}
	defer rows.Close()
	out := []store.Environment{}
	for rows.Next() {
		e, err := scanEnvironment(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list environments: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list environments: %w", err)
	}
	return out, nil
}

func (o ops) DeleteEnvironment(ctx context.Context, name string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM environments WHERE name = ?`, name)
	return o.envChanged(res, err, "delete", name)
}

func (o ops) UpdateEnvironment(ctx context.Context, e store.Environment) error {
	res, err := o.q.ExecContext(ctx, `UPDATE environments SET tls_secrets = ? WHERE name = ?`, e.TLSSecrets, e.Name)
	return o.envChanged(res, err, "update", e.Name)
}

// SetEnvironmentStatus writes the gateway_status column only, so the
// reconciler's report never races an operator's settings.
func (o ops) SetEnvironmentStatus(ctx context.Context, name string, st api.EnvironmentStatus) error {
	b, err := marshal("environment status", st)
	if err != nil {
		return err
	}
	res, err := o.q.ExecContext(ctx, `UPDATE environments SET gateway_status = ? WHERE name = ?`, b, name)
	return o.envChanged(res, err, "set the status of", name)
}

func (o ops) EnvironmentStatus(ctx context.Context, name string) (api.EnvironmentStatus, error) {
	var raw string
	err := o.q.QueryRowContext(ctx, `SELECT gateway_status FROM environments WHERE name = ?`, name).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return api.EnvironmentStatus{}, fmt.Errorf("environment %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return api.EnvironmentStatus{}, fmt.Errorf("store: environment status %q: %w", name, err)
	}
	var st api.EnvironmentStatus
	if raw == "" {
		return st, nil // not looked at yet
	}
	return st, unmarshal("environments.gateway_status", raw, &st)
}

// envChanged turns an UPDATE of one environment into ErrNotFound when no
// row matched.
func (o ops) envChanged(res sql.Result, err error, verb, name string) error {
	if err != nil {
		return fmt.Errorf("store: %s environment %q: %w", verb, name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: %s environment %q: %w", verb, name, err)
	} else if n == 0 {
		return fmt.Errorf("environment %q: %w", name, store.ErrNotFound)
	}
	return nil
}

func scanEnvironment(s scanner) (store.Environment, error) {
	var (
		e         store.Environment
		createdAt string
	)
	if err := s.Scan(&e.Name, &e.Team, &e.Cluster, &e.Namespace, &e.StorageClass, &e.Routing, &e.GatewayParent, &e.TLSSecrets, &createdAt); err != nil {
		return store.Environment{}, err
	}
	var err error
	if e.CreatedAt, err = parseTime("environments.created_at", createdAt); err != nil {
		return store.Environment{}, err
	}
	return e, nil
}
