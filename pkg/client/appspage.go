package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/berthdev/berth/pkg/api"
)

// AppPage is one page of apps and the cursor of the next ("" on the
// last page).
type AppPage struct {
	Apps []api.App
	Next string
}

// ListAppsPage returns up to limit apps (0: the server's default) after
// the cursor after ("" for the first page), by name.
func (c *Client) ListAppsPage(ctx context.Context, limit int, after string) (AppPage, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if after != "" {
		q.Set("after", after)
	}
	req, err := c.newRequest(ctx, http.MethodGet, "/api/v1/apps", q, nil)
	if err != nil {
		return AppPage{}, err
	}
	resp, err := c.send(req)
	if err != nil {
		return AppPage{}, err
	}
	defer resp.Body.Close()
	p := AppPage{Next: resp.Header.Get(api.NextCursorHeader)}
	if err := json.NewDecoder(resp.Body).Decode(&p.Apps); err != nil {
		return AppPage{}, fmt.Errorf("client: decode the answer to GET /api/v1/apps: %w", err)
	}
	return p, nil
}

// ListApps returns every app, by name, following the pages.
func (c *Client) ListApps(ctx context.Context) ([]api.App, error) { return c.ListAppsUpTo(ctx, 0) }

// ListAppsUpTo returns the first n apps by name (n <= 0: all),
// following the pages; each page asks for at most api.MaxPageLimit.
func (c *Client) ListAppsUpTo(ctx context.Context, n int) ([]api.App, error) {
	limit := 0 // the server's default page size
	if n > 0 {
		limit = min(n, api.MaxPageLimit)
	}
	out := []api.App{}
	after := ""
	for {
		p, err := c.ListAppsPage(ctx, limit, after)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Apps...)
		if n > 0 && len(out) >= n {
			return out[:n], nil
		}
		if p.Next == "" || len(p.Apps) == 0 {
			return out, nil
		}
		after = p.Next
	}
}
