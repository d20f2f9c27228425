package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berthdev/berth/pkg/api"
)

// Watch calls fn for every event with a revision above since, in order,
// first the stored ones and then new ones as they happen. It follows the
// stream until ctx ends (returning ctx's error) or fn returns an error
// (returning it). A dropped stream is reopened from the last revision seen
// (Last-Event-ID), so fn sees no gap and no repeat. An answer other than a
// stream (bad token, bad revision) or a server that cannot be reached on the
// first attempt ends Watch with that error.
func (c *Client) Watch(ctx context.Context, since int64, fn func(api.Event) error) error {
	last := since
	wait := c.retryMin
	for attempt := 0; ; attempt++ {
		got, err := c.watchOnce(ctx, last, func(e api.Event) error {
			last = e.Revision
			return fn(e)
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fnErr *callbackError
		if errors.As(err, &fnErr) {
			return fnErr.err
		}
		if c.watchState != nil {
			c.watchState(err)
		}
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status < 500 {
			return err
		}
		if attempt == 0 && err != nil && !got {
			return err // nothing was ever reached: say so rather than spin
		}
		if got {
			wait = c.retryMin // the stream worked; a drop is not a pattern
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, c.retryMax)
	}
}

// callbackError marks an error from the caller's fn, which ends Watch.
type callbackError struct{ err error }

func (e *callbackError) Error() string { return e.err.Error() }

// watchOnce reads one SSE connection until it ends. connected reports
// whether the server answered with a stream.
func (c *Client) watchOnce(ctx context.Context, since int64, fn func(api.Event) error) (connected bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	q := url.Values{"since": {strconv.FormatInt(since, 10)}}
	req, err := c.newRequest(ctx, http.MethodGet, "/api/v1/watch", q, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if since > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(since, 10))
	}
	resp, err := c.send(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if c.watchState != nil {
		c.watchState(nil)
	}
	// The server sends a heartbeat every 15s; silence for longer means the
	// connection died without a FIN (a sleeping laptop, a dropped NAT entry).
	idle := time.AfterFunc(c.watchIdle, cancel)
	defer idle.Stop()

	rd := bufio.NewReader(resp.Body)
	var id, event string
	var data strings.Builder
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) {
				return true, fmt.Errorf("watch stream ended")
			}
			return true, fmt.Errorf("watch stream: %w", err)
		}
		idle.Reset(c.watchIdle)
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if data.Len() > 0 {
				if err := dispatch(id, event, data.String(), fn); err != nil {
					return true, err
				}
			}
			id, event = "", ""
			data.Reset()
		case strings.HasPrefix(line, ":"):
			// a comment: heartbeat
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "event":
				event = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
		}
	}
}

func dispatch(id, event, data string, fn func(api.Event) error) error {
	var e api.Event
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		return fmt.Errorf("watch: event %s (%s) is not an event: %w", id, event, err)
	}
	if err := fn(e); err != nil {
		return &callbackError{err: err}
	}
	return nil
}
