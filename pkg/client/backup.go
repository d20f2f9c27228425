package client

import (
	"context"
	"io"
	"net/http"
)

// Backup streams a backup of the whole platform (platform admins only).
// The caller closes the body; a backup cut short lacks its trailer, which
// `berth restore` refuses, so check it (the CLI reads it back) before
// trusting it.
func (c *Client) Backup(ctx context.Context) (io.ReadCloser, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/api/v1/backup", nil, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/vnd.berth.backup+gzip, application/json")
	resp, err := c.send(req)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}
