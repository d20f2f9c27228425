package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// sseStream reads a watch response in the test.
type sseStream struct {
	resp *http.Response
	rd   *bufio.Reader
}

func (ts *testServer) openWatch(t *testing.T, ctx context.Context, query string, headers map[string]string) *sseStream {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "GET", ts.URL+"/api/v1/watch"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ts.token)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("watch: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return &sseStream{resp: resp, rd: bufio.NewReader(resp.Body)}
}

// next returns the next event, checking its SSE id and event lines agree
// with its data; comments are counted in heartbeats.
func (s *sseStream) next(t *testing.T, heartbeats *int) api.Event {
	t.Helper()
	var id, kind, data string
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			t.Fatalf("read stream: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && data != "":
			var e api.Event
			if err := json.Unmarshal([]byte(data), &e); err != nil {
				t.Fatalf("data %q: %v", data, err)
			}
			if id != strconv.FormatInt(e.Revision, 10) || kind != e.Kind {
				t.Fatalf("id %q event %q for %+v", id, kind, e)
			}
			return e
		case strings.HasPrefix(line, ": heartbeat"):
			if heartbeats != nil {
				*heartbeats++
			}
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			kind = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

func applyN(t *testing.T, ts *testServer, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		spec := fmt.Sprintf("name: shop\nservices:\n  web:\n    command: [./web, \"%d\"]\n", i)
		ts.mustCall(t, 200, "POST", "/api/v1/apply", api.ApplyRequest{Spec: spec}, nil)
	}
}

func TestWatchResumesWithoutGaps(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	applyN(t, ts, 1, 3)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first := ts.openWatch(t, ctx, "?since=0", nil)
	for want := int64(1); want <= 3; want++ {
		if e := first.next(t, nil); e.Revision != want || e.Release != int(want) || e.Kind != api.EventAppApplied || e.App != "shop" {
			t.Fatalf("event %d: %+v", want, e)
		}
	}
	// Followed live.
	applyN(t, ts, 4, 4)
	if e := first.next(t, nil); e.Revision != 4 {
		t.Fatalf("live event: %+v", e)
	}
	first.resp.Body.Close()

	// Changes while disconnected, then resume from the last id seen; the
	// Last-Event-ID header wins over a stale ?since.
	applyN(t, ts, 5, 7)
	second := ts.openWatch(t, ctx, "?since=1", map[string]string{"Last-Event-ID": "4"})
	for want := int64(5); want <= 7; want++ {
		if e := second.next(t, nil); e.Revision != want {
			t.Fatalf("resumed: got revision %d, want %d", e.Revision, want)
		}
	}
	third := ts.openWatch(t, ctx, "?since=6", nil)
	if e := third.next(t, nil); e.Revision != 7 {
		t.Fatalf("since=6: got %d", e.Revision)
	}
}

// TestWatchWakesOnPoke uses a poll interval far longer than the test, so an
// event only arrives in time through the Broadcaster.
func TestWatchWakesOnPoke(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, func(d *Deps) { d.WatchPoll = time.Hour; d.Heartbeat = time.Hour })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := ts.openWatch(t, ctx, "", nil)
	start := time.Now()
	applyN(t, ts, 1, 1)
	if e := s.next(t, nil); e.Revision != 1 {
		t.Fatalf("event %+v", e)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("event took %v", d)
	}
}

// TestWatchPollsStoreWrites covers writers that do not poke (the
// reconciler writing through the store): the poll finds their events.
func TestWatchPollsStoreWrites(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := ts.openWatch(t, ctx, "", nil)
	if _, err := ts.db.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: "shop", Time: time.Now(), Data: json.RawMessage(`{"phase":"Running"}`)}); err != nil {
		t.Fatal(err)
	}
	heartbeats := 0
	e := s.next(t, &heartbeats)
	if e.Kind != api.EventAppStatus || string(e.Data) != `{"phase":"Running"}` {
		t.Fatalf("event %+v", e)
	}
	// Heartbeats keep an idle stream alive (every 100ms in tests).
	line, err := s.rd.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, ": heartbeat") {
		t.Fatalf("want a heartbeat, got %q, %v", line, err)
	}
}
