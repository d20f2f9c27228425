package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

func envQuery(env string) url.Values {
	q := url.Values{}
	if env != "" {
		q.Set("env", env)
	}
	return q
}

// GetConfig returns a version of an app's config set in env ("" for the
// default environment); version 0 means the latest.
func (c *Client) GetConfig(ctx context.Context, app, env string, version int) (api.ConfigSet, error) {
	q := envQuery(env)
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	var out api.ConfigSet
	err := c.do(ctx, http.MethodGet, appPath(app, "config"), q, nil, &out)
	return out, err
}

// SetConfig writes a new version of the config set with u's changes.
func (c *Client) SetConfig(ctx context.Context, app string, u api.ConfigUpdate) (api.ConfigChange, error) {
	var out api.ConfigChange
	err := c.do(ctx, http.MethodPost, appPath(app, "config"), nil, u, &out)
	return out, err
}

// ConfigHistory lists every version of the config set, oldest first.
func (c *Client) ConfigHistory(ctx context.Context, app, env string) ([]api.ConfigSetSummary, error) {
	var out []api.ConfigSetSummary
	err := c.do(ctx, http.MethodGet, appPath(app, "config", "history"), envQuery(env), nil, &out)
	return out, err
}

// DiffConfig compares two versions; from or to < 0 take the server's
// defaults (the latest, and the one before it).
func (c *Client) DiffConfig(ctx context.Context, app, env string, from, to int) (api.ConfigDiff, error) {
	q := envQuery(env)
	if from >= 0 {
		q.Set("from", strconv.Itoa(from))
	}
	if to >= 0 {
		q.Set("to", strconv.Itoa(to))
	}
	var out api.ConfigDiff
	err := c.do(ctx, http.MethodGet, appPath(app, "config", "diff"), q, nil, &out)
	return out, err
}

// RollbackConfig writes an earlier version again as the newest.
func (c *Client) RollbackConfig(ctx context.Context, app string, req api.ConfigRollbackRequest) (api.ConfigChange, error) {
	var out api.ConfigChange
	err := c.do(ctx, http.MethodPost, appPath(app, "config", "rollback"), nil, req, &out)
	return out, err
}

// ListSecrets returns an app's secrets: names, versions and times.
func (c *Client) ListSecrets(ctx context.Context, app string) ([]api.Secret, error) {
	var out []api.Secret
	err := c.do(ctx, http.MethodGet, appPath(app, "secrets"), nil, nil, &out)
	return out, err
}

// SetSecret creates or replaces a secret. The value is sent once and never
// comes back.
func (c *Client) SetSecret(ctx context.Context, app, name, value string) (api.ConfigChange, error) {
	var out api.ConfigChange
	err := c.do(ctx, http.MethodPut, appPath(app, "secrets", url.PathEscape(name)), nil, api.SecretValue{Value: value}, &out)
	return out, err
}

// DeleteSecret removes a secret.
func (c *Client) DeleteSecret(ctx context.Context, app, name string) error {
	return c.do(ctx, http.MethodDelete, appPath(app, "secrets", url.PathEscape(name)), nil, nil, nil)
}
