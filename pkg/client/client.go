// Package client is the Go client of Berth's HTTP API. The CLI uses only
// this package to talk to a server.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one Berth server with one token. It is safe for concurrent use.
type Client struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	token     string
	hc        *http.Client
	userAgent string
	// watchIdle is how long Watch waits for any byte (heartbeats included)
	// before it treats the stream as dead and reconnects.
	watchIdle time.Duration
	// retryMin and retryMax bound Watch's wait between reconnects.
	retryMin, retryMax time.Duration
	// watchState, when set, is told when a watch stream opens and drops.
	watchState func(err error)
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the http.Client used (default: a client without an
// overall timeout, since logs and watch stream; deadlines come from ctx).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithWatchState calls fn each time a Watch stream opens (err nil) and each
// time one drops or cannot be opened (err says why), before Watch waits to
// reconnect; a follower can log that it lost the server, and when it got
// it back. fn runs on Watch's goroutine and must not block.
func WithWatchState(fn func(err error)) Option {
	return func(c *Client) { c.watchState = fn }
}

// New returns a client of the server at baseURL ("http://localhost:7700";
// a missing scheme means http).
func New(baseURL, token string, opts ...Option) *Client {
	base := strings.TrimSpace(baseURL)
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{
		base:      strings.TrimRight(base, "/"),
		token:     token,
		hc:        &http.Client{},
		userAgent: "berth-client",
		watchIdle: 45 * time.Second,
		retryMin:  200 * time.Millisecond,
		retryMax:  5 * time.Second,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// newRequest builds a request to path (which starts with /api/v1) with the
// token and, when body is not nil, a JSON body.
func (c *Client) newRequest(ctx context.Context, method, path string, query url.Values, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, u, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	return req, nil
}

// send performs req and returns the response when its status is 2xx; any
// other status becomes an *APIError, and a failed connection an error with
// a hint about where the server should be.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, ctxErr)
		}
		return nil, fmt.Errorf("cannot reach Berth at %s: %w (is \"berth server\" running?)", c.base, unwrapURLError(err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readAPIError(resp)
}

// unwrapURLError drops *url.Error's "Get "http://...": " prefix, since the
// message names the server already.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// do sends a request and decodes a JSON answer into out (nil: discard it).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	req, err := c.newRequest(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("client: decode the answer to %s %s: %w", method, path, err)
	}
	return nil
}

func appPath(app string, rest ...string) string {
	p := "/api/v1/apps/" + url.PathEscape(app)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}
