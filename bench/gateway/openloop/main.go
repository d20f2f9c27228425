// Command openloop is an open-loop HTTP load generator: it sends requests at
// a fixed rate whatever the server does, and times each request from the
// moment it was due to be sent, not from when a connection became free.
// A closed-loop tool such as wrk waits for an answer before it sends the
// next request on a connection, so a stalled server also stalls the load
// and the stall is under-counted ("coordinated omission"); here a stall
// shows up in the latency of every request that was due during it.
//
//	openloop -url http://127.0.0.1:8080/ -host bench.localhost -rate 10000 -duration 10s
//
// It prints one JSON object (see result) on stdout.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"
)

// result is what openloop prints. Latencies are in microseconds, measured
// from each request's intended send time to the end of its response.
type result struct {
	Rate      float64 `json:"rate"`
	Duration  float64 `json:"duration_s"`
	Due       int     `json:"due"`       // requests due in the measured window
	Completed int     `json:"completed"` // of those, answered with 2xx
	Errors    int     `json:"errors"`    // of those, failed or non-2xx
	Missed    int     `json:"missed"`    // of those, never sent before the deadline
	P50       float64 `json:"p50_us"`
	P90       float64 `json:"p90_us"`
	P99       float64 `json:"p99_us"`
	P999      float64 `json:"p999_us"`
	Max       float64 `json:"max_us"`
}

type config struct {
	addr, host, path string
	rate             float64
	duration, warmup time.Duration
	conns            int
	timeout          time.Duration
}

func main() {
	var c config
	rawURL := flag.String("url", "", "target URL, http://HOST:PORT/PATH (required)")
	flag.StringVar(&c.host, "host", "", "Host header (default: the URL's host)")
	flag.Float64Var(&c.rate, "rate", 0, "requests per second (required)")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "measured time")
	flag.DurationVar(&c.warmup, "warmup", time.Second, "time sent at the same rate before measuring")
	flag.IntVar(&c.conns, "conns", 64, "keep-alive connections (the most requests in flight)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long past the end queued requests may still finish")
	flag.Parse()
	if err := c.parse(*rawURL); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(2)
	}
	r := run(c)
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		fmt.Fprintln(os.Stderr, "openloop:", err)
		os.Exit(1)
	}
}

func (c *config) parse(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("-url is required")
	case err != nil:
		return fmt.Errorf("-url: %w", err)
	case u.Scheme != "http" || u.Port() == "":
		return fmt.Errorf("-url: expected http://HOST:PORT/PATH, got %q", raw)
	case c.rate <= 0:
		return fmt.Errorf("-rate: expected a positive number of requests per second, got %g", c.rate)
	case c.conns <= 0:
		return fmt.Errorf("-conns: expected a positive number, got %d", c.conns)
	case c.duration <= 0:
		return fmt.Errorf("-duration: expected a positive duration, got %s", c.duration)
	}
	c.addr, c.path = u.Host, u.RequestURI()
	if c.host == "" {
		c.host = u.Host
	}
	return nil
}

// sample is one measured request.
type sample struct {
	latency time.Duration
	ok      bool
}

func run(c config) result {
	interval := time.Duration(float64(time.Second) / c.rate)
	total := int(float64(c.warmup+c.duration) / float64(interval))
	measureFrom := int(float64(c.warmup) / float64(interval))
	start := time.Now().Add(10 * time.Millisecond)
	deadline := start.Add(c.warmup + c.duration + c.timeout)
	due := func(i int) time.Time { return start.Add(time.Duration(i) * interval) }

	// The schedule is buffered whole, so the scheduler never waits for a
	// worker: requests that find no free connection queue, and their
	// waiting counts in their latency.
	schedule := make(chan int, total)
	go func() {
		defer close(schedule)
		// time.Sleep rounds short waits up to about a millisecond (the
		// runtime's poller waits in milliseconds), which would send the load
		// in bursts; nanosleep on a thread of its own wakes within ~0.1 ms.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for i := 0; i < total; {
			now := time.Now()
			for ; i < total && !due(i).After(now); i++ {
				schedule <- i
			}
			if i < total {
				ts := syscall.NsecToTimespec(int64(min(due(i).Sub(now), time.Millisecond)))
				_ = syscall.Nanosleep(&ts, nil)
			}
		}
	}()

	req := []byte("GET " + c.path + " HTTP/1.1\r\nHost: " + c.host + "\r\nUser-Agent: openloop\r\n\r\n")
	samples := make([][]sample, c.conns)
	var wg sync.WaitGroup
	for w := range c.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples[w] = worker(c.addr, req, schedule, due, measureFrom, deadline)
		}()
	}
	wg.Wait()

	r := result{Rate: c.rate, Duration: c.duration.Seconds(), Due: total - measureFrom}
	var lat []time.Duration
	for _, ss := range samples {
		for _, s := range ss {
			if s.ok {
				lat = append(lat, s.latency)
			} else {
				r.Errors++
			}
		}
	}
	r.Completed = len(lat)
	r.Missed = r.Due - r.Completed - r.Errors
	slices.Sort(lat)
	us := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		i := min(int(q*float64(len(lat))), len(lat)-1)
		return float64(lat[i]) / float64(time.Microsecond)
	}
	r.P50, r.P90, r.P99, r.P999, r.Max = us(0.50), us(0.90), us(0.99), us(0.999), us(1)
	return r
}

// worker sends the due requests it takes from schedule over one keep-alive
// connection, redialling after an error, until the schedule is drained or
// the deadline passes.
func worker(addr string, req []byte, schedule <-chan int, due func(int) time.Time, measureFrom int, deadline time.Time) []sample {
	var (
		out  []sample
		conn net.Conn
		br   *bufio.Reader
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for i := range schedule {
		if time.Now().After(deadline) {
			return out
		}
		ok := true
		if conn == nil {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				ok = false
			} else {
				conn, br = c, bufio.NewReader(c)
			}
		}
		if ok {
			_ = conn.SetDeadline(deadline)
			keep, err := roundTrip(conn, br, req)
			ok = err == nil
			if !keep {
				conn.Close()
				conn = nil
			}
		}
		if i >= measureFrom {
			out = append(out, sample{latency: time.Since(due(i)), ok: ok})
		}
	}
	return out
}

var errStatus = errors.New("non-2xx status")

// roundTrip sends one request and reads its answer; keep says whether the
// connection may carry the next one.
func roundTrip(conn net.Conn, br *bufio.Reader, req []byte) (keep bool, err error) {
	if _, err := conn.Write(req); err != nil {
		return false, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return !resp.Close, fmt.Errorf("%w: %d", errStatus, resp.StatusCode)
	}
	return !resp.Close, nil
}
