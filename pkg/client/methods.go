package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

// Version returns the server's build information.
func (c *Client) Version(ctx context.Context) (api.Version, error) {
	var v api.Version
	err := c.do(ctx, http.MethodGet, "/api/v1/version", nil, nil, &v)
	return v, err
}

// UploadSource stores a source archive under its digest
// ("sha256:<64 hex>"); the server rejects content that does not match.
func (c *Client) UploadSource(ctx context.Context, digest string, r io.Reader) error {
	req, err := c.newRequest(ctx, http.MethodPut, "/api/v1/blobs/"+url.PathEscape(digest), nil, nil)
	if err != nil {
		return err
	}
	req.Body = io.NopCloser(r)
	switch v := r.(type) {
	case interface{ Len() int }: // bytes.Reader, strings.Reader, bytes.Buffer
		req.ContentLength = int64(v.Len())
	default:
		req.ContentLength = -1 // unknown: sent chunked
	}
	if req.ContentLength == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

// Validate checks a spec without storing it: nil when valid, an *APIError
// (422) listing every problem otherwise.
func (c *Client) Validate(ctx context.Context, spec string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/validate", nil, api.ApplyRequest{Spec: spec}, nil)
}

// Apply creates a release of the app the spec declares.
func (c *Client) Apply(ctx context.Context, req api.ApplyRequest) (api.ApplyResponse, error) {
	var out api.ApplyResponse
	err := c.do(ctx, http.MethodPost, "/api/v1/apply", nil, req, &out)
	return out, err
}

// GetApp returns one app with its status.
func (c *Client) GetApp(ctx context.Context, name string) (api.App, error) {
	var out api.App
	err := c.do(ctx, http.MethodGet, appPath(name), nil, nil, &out)
	return out, err
}

// DeleteApp asks the server to stop and remove an app; it returns once the
// request is accepted, not when the app is gone (watch for app.deleted).
func (c *Client) DeleteApp(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, appPath(name), nil, nil, nil)
}

// ListReleases returns an app's releases, oldest first.
func (c *Client) ListReleases(ctx context.Context, app string) ([]api.Release, error) {
	var out []api.Release
	err := c.do(ctx, http.MethodGet, appPath(app, "releases"), nil, nil, &out)
	return out, err
}

// GetRelease returns release n of an app.
func (c *Client) GetRelease(ctx context.Context, app string, n int) (api.Release, error) {
	var out api.Release
	err := c.do(ctx, http.MethodGet, appPath(app, "releases", strconv.Itoa(n)), nil, nil, &out)
	return out, err
}

// Diff returns the unified diff between two releases' specs.
func (c *Client) Diff(ctx context.Context, app string, from, to int) (api.DiffResponse, error) {
	var out api.DiffResponse
	q := url.Values{"from": {strconv.Itoa(from)}, "to": {strconv.Itoa(to)}}
	err := c.do(ctx, http.MethodGet, appPath(app, "diff"), q, nil, &out)
	return out, err
}

// Rollback redeploys release to (0: the last deployed release before the
// current one) as a new release.
func (c *Client) Rollback(ctx context.Context, app string, to int) (api.ApplyResponse, error) {
	var out api.ApplyResponse
	err := c.do(ctx, http.MethodPost, appPath(app, "rollback"), nil, api.RollbackRequest{To: to}, &out)
	return out, err
}

// Rollout starts a canary of the app's target release (req.Canary: its
// traffic weight in percent) or moves the running canary (req.Weight).
func (c *Client) Rollout(ctx context.Context, app string, req api.RolloutRequest) (api.RolloutResponse, error) {
	var out api.RolloutResponse
	err := c.do(ctx, http.MethodPost, appPath(app, "rollout"), nil, req, &out)
	return out, err
}

// Promote makes the running canary the app's only release.
func (c *Client) Promote(ctx context.Context, app string) (api.RolloutResponse, error) {
	var out api.RolloutResponse
	err := c.do(ctx, http.MethodPost, appPath(app, "promote"), nil, nil, &out)
	return out, err
}

// Abort ends the running canary: all traffic goes back to the stable
// release, and the canary release is marked failed (Aborted).
func (c *Client) Abort(ctx context.Context, app string) (api.RolloutResponse, error) {
	var out api.RolloutResponse
	err := c.do(ctx, http.MethodPost, appPath(app, "abort"), nil, nil, &out)
	return out, err
}

// LogOptions selects which output Logs streams.
type LogOptions struct {
	Service  string // "" for every service
	Instance string // "" for every instance
	Follow   bool   // keep streaming new lines until ctx ends
	Tail     int    // last N lines per instance; 0 for all
}

// Logs streams an app's output as text. The caller closes the stream; with
// Follow it ends when ctx ends.
func (c *Client) Logs(ctx context.Context, app string, opts LogOptions) (io.ReadCloser, error) {
	q := url.Values{}
	if opts.Service != "" {
		q.Set("service", opts.Service)
	}
	if opts.Instance != "" {
		q.Set("instance", opts.Instance)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Tail > 0 {
		q.Set("tail", strconv.Itoa(opts.Tail))
	}
	req, err := c.newRequest(ctx, http.MethodGet, appPath(app, "logs"), q, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// GatewaySnapshot returns the routing table the control plane's gateway
// serves, for a standalone gateway: load it, then follow Watch from its
// Revision and fetch it again after events.
func (c *Client) GatewaySnapshot(ctx context.Context) (api.GatewaySnapshot, error) {
	var out api.GatewaySnapshot
	err := c.do(ctx, http.MethodGet, "/api/v1/gateway/snapshot", nil, nil, &out)
	return out, err
}

// EnvGatewaySnapshot returns the routing table of one environment's apps,
// for the gateway Berth runs in that environment's cluster (its token
// reads only this).
func (c *Client) EnvGatewaySnapshot(ctx context.Context, env string) (api.GatewaySnapshot, error) {
	var out api.GatewaySnapshot
	err := c.do(ctx, http.MethodGet, "/api/v1/gateway/snapshot", url.Values{"env": {env}}, nil, &out)
	return out, err
}

// AddCluster adds a Kubernetes cluster; the server checks that it answers
// and accepts the credentials before storing it.
func (c *Client) AddCluster(ctx context.Context, req api.ClusterRequest) (api.Cluster, error) {
	var out api.Cluster
	err := c.do(ctx, http.MethodPost, "/api/v1/clusters", nil, req, &out)
	return out, err
}

// ListClusters returns the clusters with their health checked now.
func (c *Client) ListClusters(ctx context.Context) ([]api.Cluster, error) {
	var out []api.Cluster
	err := c.do(ctx, http.MethodGet, "/api/v1/clusters", nil, nil, &out)
	return out, err
}

// GetCluster returns one cluster with its health checked now.
func (c *Client) GetCluster(ctx context.Context, name string) (api.Cluster, error) {
	var out api.Cluster
	err := c.do(ctx, http.MethodGet, "/api/v1/clusters/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// RemoveCluster forgets a cluster and its credentials.
func (c *Client) RemoveCluster(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/clusters/"+url.PathEscape(name), nil, nil, nil)
}

// CreateEnvironment creates an environment: a namespace of a cluster.
func (c *Client) CreateEnvironment(ctx context.Context, req api.EnvironmentRequest) (api.Environment, error) {
	var out api.Environment
	err := c.do(ctx, http.MethodPost, "/api/v1/envs", nil, req, &out)
	return out, err
}

// ListEnvironments returns the environments, by name.
func (c *Client) ListEnvironments(ctx context.Context) ([]api.Environment, error) {
	var out []api.Environment
	err := c.do(ctx, http.MethodGet, "/api/v1/envs", nil, nil, &out)
	return out, err
}

// GetEnvironment returns one environment.
func (c *Client) GetEnvironment(ctx context.Context, name string) (api.Environment, error) {
	var out api.Environment
	err := c.do(ctx, http.MethodGet, "/api/v1/envs/"+url.PathEscape(name), nil, nil, &out)
	return out, err
}

// UpdateEnvironment changes an environment's settings (those left nil
// are kept).
func (c *Client) UpdateEnvironment(ctx context.Context, name string, req api.EnvironmentUpdate) (api.Environment, error) {
	var out api.Environment
	err := c.do(ctx, http.MethodPatch, "/api/v1/envs/"+url.PathEscape(name), nil, req, &out)
	return out, err
}

// RemoveEnvironment removes an environment.
func (c *Client) RemoveEnvironment(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/api/v1/envs/"+url.PathEscape(name), nil, nil, nil)
}
