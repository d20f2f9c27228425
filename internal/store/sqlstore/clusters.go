package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berthdev/berth/internal/store"
)

func (o ops) CreateCluster(ctx context.Context, c store.Cluster, kubeconfig []byte) error {
	switch {
	case c.Name == "":
		return fmt.Errorf("cluster name: must not be empty: %w", store.ErrInvalid)
	case !c.InCluster && len(kubeconfig) == 0:
		return fmt.Errorf("cluster %q: kubeconfig: must not be empty unless in-cluster: %w", c.Name, store.ErrInvalid)
	}
	if _, err := o.q.ExecContext(ctx, `INSERT INTO clusters (name, server, context, in_cluster, created_at) VALUES (?, ?, ?, ?, ?)`,
		c.Name, c.Server, c.Context, c.InCluster, FormatTime(c.CreatedAt)); err != nil {
		return o.mapErr(err, "create", fmt.Sprintf("cluster %q", c.Name), "")
	}
	if len(kubeconfig) > 0 {
		if _, err := o.q.ExecContext(ctx, `INSERT INTO cluster_credentials (cluster, kubeconfig) VALUES (?, ?)`, c.Name, kubeconfig); err != nil {
			// The message names the cluster only, never the credentials.
			return o.mapErr(err, "store credentials of", fmt.Sprintf("cluster %q", c.Name), "")
		}
	}
	return nil
}

const clusterColumns = `name, server, context, in_cluster, created_at`

func (o ops) GetCluster(ctx context.Context, name string) (store.Cluster, error) {
	c, err := scanCluster(o.q.QueryRowContext(ctx, `SELECT `+clusterColumns+` FROM clusters WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Cluster{}, fmt.Errorf("cluster %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.Cluster{}, fmt.Errorf("store: get cluster %q: %w", name, err)
	}
	return c, nil
}

func (o ops) ListClusters(ctx context.Context) ([]store.Cluster, error) {
	rows, err := o.q.QueryContext(ctx, `SELECT `+clusterColumns+` FROM clusters ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: list clusters: %w", err)
	}
	defer rows.Close()
	out := []store.Cluster{}
	for rows.Next() {
		c, err := scanCluster(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list clusters: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list clusters: %w", err)
	}
	return out, nil
}

func (o ops) ClusterCredentials(ctx context.Context, name string) ([]byte, error) {
	if _, err := o.GetCluster(ctx, name); err != nil {
		return nil, err
	}
	var b []byte
	err := o.q.QueryRowContext(ctx, `SELECT kubeconfig FROM cluster_credentials WHERE cluster = ?`, name).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // in-cluster: none stored
	}
	if err != nil {
		return nil, fmt.Errorf("store: read credentials of cluster %q: %w", name, err)
	}
	return b, nil
}

func (o ops) SetClusterCredentials(ctx context.Context, name string, kubeconfig []byte) error {
	if len(kubeconfig) == 0 {
		return fmt.Errorf("cluster %q: kubeconfig: must not be empty: %w", name, store.ErrInvalid)
	}
	res, err := o.q.ExecContext(ctx, `UPDATE cluster_credentials SET kubeconfig = ? WHERE cluster = ?`, kubeconfig, name)
	if err != nil {
		return fmt.Errorf("store: set credentials of cluster %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: set credentials of cluster %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("credentials of cluster %q: %w", name, store.ErrNotFound)
	}
	return nil
}

func (o ops) DeleteCluster(ctx context.Context, name string) error {
	res, err := o.q.ExecContext(ctx, `DELETE FROM clusters WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("store: delete cluster %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("store: delete cluster %q: %w", name, err)
	} else if n == 0 {
		return fmt.Errorf("cluster %q: %w", name, store.ErrNotFound)
	}
	return nil
}

func scanCluster(s scanner) (store.Cluster, error) {
	var (
		c         store.Cluster
		createdAt string
	)
	if err := s.Scan(&c.Name, &c.Server, &c.Context, &c.InCluster, &createdAt); err != nil {
		return store.Cluster{}, err
	}
	var err error
	if c.CreatedAt, err = parseTime("clusters.created_at", createdAt); err != nil {
		return store.Cluster{}, err
	}
	return c, nil
}
