package client

import (
	"context"
	"io"
	"net/http"
	"net/url"

	"github.com/berthdev/berth/pkg/api"
)

// ListArtifacts returns the artifact archives run id's steps kept.
func (c *Client) ListArtifacts(ctx context.Context, id string) ([]api.StepArtifacts, error) {
	var out []api.StepArtifacts
	err := c.do(ctx, http.MethodGet, runPath(id, "artifacts"), nil, nil, &out)
	return out, err
}

// DownloadArtifacts streams step's artifact archive (a tar.gz) of run id,
// with the digest the server says it has; check it before trusting the
// content. The caller closes it.
func (c *Client) DownloadArtifacts(ctx context.Context, id, step string) (io.ReadCloser, string, error) {
	req, err := c.newRequest(ctx, http.MethodGet, runPath(id, "artifacts", url.PathEscape(step)), nil, nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept", "application/gzip")
	resp, err := c.send(req)
	if err != nil {
		return nil, "", err
	}
	return resp.Body, resp.Header.Get("X-Berth-Digest"), nil
}
