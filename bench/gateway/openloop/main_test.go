package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		stall time.Duration // the 50th request's handler sleeps this long
		check func(t *testing.T, r result)
	}{
		{desc: "a steady server answers every due request quickly", check: func(t *testing.T, r result) {
			if r.Completed != r.Due || r.Errors != 0 || r.Missed != 0 {
				t.Errorf("completed %d of %d, errors %d, missed %d", r.Completed, r.Due, r.Errors, r.Missed)
			}
			if r.P50 > 50_000 {
				t.Errorf("p50 = %.0f µs, want well under 50 ms on loopback", r.P50)
			}
		}},
		// One connection and one stall of 300 ms: every request due during
		// the stall waits for it. Timed from when they were sent (closed
		// loop), only one request in 300 would be slow and p99 would stay
		// small; timed from when they were due, about 150 are.
		{desc: "a stall counts for every request due during it", stall: 300 * time.Millisecond, check: func(t *testing.T, r result) {
			if r.P99 < 150_000 {
				t.Errorf("p99 = %.0f µs, want >= 150 ms: requests queued behind the stall must count their wait", r.P99)
			}
			if r.P50 > 150_000 {
				t.Errorf("p50 = %.0f µs: the stall should not dominate the median", r.P50)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 50 && tc.stall > 0 {
					time.Sleep(tc.stall)
				}
				if r.Host != "bench.localhost" {
					w.WriteHeader(http.StatusNotFound)
				}
				_, _ = io.WriteString(w, "ok")
			}))
			defer srv.Close()
			c := config{host: "bench.localhost", rate: 500, duration: time.Second, conns: 1, timeout: 5 * time.Second}
			if err := c.parse(srv.URL + "/"); err != nil {
				t.Fatal(err)
			}
			tc.check(t, run(c))
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, url string
		rate      float64
		want      string // part of the error; "" for none
	}{
		{desc: "valid", url: "http://127.0.0.1:8080/x?y=1", rate: 10},
		{desc: "no url", rate: 10, want: "-url is required"},
		{desc: "no port", url: "http://localhost/", rate: 10, want: "expected http://HOST:PORT/PATH"},
		{desc: "https", url: "https://127.0.0.1:1/", rate: 10, want: "expected http://HOST:PORT/PATH"},
		{desc: "no rate", url: "http://127.0.0.1:1/", want: "-rate"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			c := config{rate: tc.rate, conns: 1, duration: time.Second}
			err := c.parse(tc.url)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("parse(%q) = %v", tc.url, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("parse(%q) = %v, want an error containing %q", tc.url, err, tc.want)
			case tc.want == "" && (c.path != "/x?y=1" || c.host != "127.0.0.1:8080"):
				t.Errorf("path %q host %q", c.path, c.host)
			}
		})
	}
}
