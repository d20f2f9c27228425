package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

func runPath(id string, rest ...string) string {
	p := "/api/v1/runs/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// ListPipelines returns the pipelines of the apps the caller may see that
// name a source.git.
func (c *Client) ListPipelines(ctx context.Context) ([]api.Pipeline, error) {
	var out []api.Pipeline
	err := c.do(ctx, http.MethodGet, "/api/v1/pipelines", nil, nil, &out)
	return out, err
}

// GetPipeline returns an app's pipeline: source, webhooks, the definition
// last read and the last run.
func (c *Client) GetPipeline(ctx context.Context, app string) (api.Pipeline, error) {
	var out api.Pipeline
	err := c.do(ctx, http.MethodGet, appPath(app, "pipeline"), nil, nil, &out)
	return out, err
}

// StartRun queues a manual run of app's pipeline.
func (c *Client) StartRun(ctx context.Context, app string, req api.RunRequest) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodPost, appPath(app, "runs"), nil, req, &out)
	return out, err
}

// RunListOptions filter ListRuns.
type RunListOptions struct {
	App   string // "" for every app
	State string // "" for every state
	Limit int    // 0: the server's default (50)
}

// ListRuns returns runs, newest first.
func (c *Client) ListRuns(ctx context.Context, opts RunListOptions) ([]api.Run, error) {
	q := url.Values{}
	if opts.App != "" {
		q.Set("app", opts.App)
	}
	if opts.State != "" {
		q.Set("state", opts.State)
	}
	if opts.Limit > 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	var out []api.Run
	err := c.do(ctx, http.MethodGet, "/api/v1/runs", q, nil, &out)
	return out, err
}

// GetRun returns a run with its steps and approvals.
func (c *Client) GetRun(ctx context.Context, id string) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodGet, runPath(id), nil, nil, &out)
	return out, err
}

// CancelRun stops a run.
func (c *Client) CancelRun(ctx context.Context, id string) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodPost, runPath(id, "cancel"), nil, nil, &out)
	return out, err
}

// RerunRun queues a new run like run id.
func (c *Client) RerunRun(ctx context.Context, id string) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodPost, runPath(id, "rerun"), nil, nil, &out)
	return out, err
}

// Approve approves the run's waiting approval step.
func (c *Client) Approve(ctx context.Context, id, comment string) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodPost, runPath(id, "approve"), nil, api.DecisionRequest{Comment: comment}, &out)
	return out, err
}

// Reject rejects the run's waiting approval step, which fails the run.
func (c *Client) Reject(ctx context.Context, id, comment string) (api.Run, error) {
	var out api.Run
	err := c.do(ctx, http.MethodPost, runPath(id, "reject"), nil, api.DecisionRequest{Comment: comment}, &out)
	return out, err
}

// RunLogs streams a run's log as text; with follow until the run ends (or
// ctx does). The caller closes it.
func (c *Client) RunLogs(ctx context.Context, id string, follow bool) (io.ReadCloser, error) {
	q := url.Values{}
	if follow {
		q.Set("follow", "true")
	}
	req, err := c.newRequest(ctx, http.MethodGet, runPath(id, "logs"), q, nil)
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
