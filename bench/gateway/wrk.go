package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// wrkResult is one wrk run, as its Lua done() hook reports it.
type wrkResult struct {
	Requests   float64 `json:"requests"`
	DurationUS float64 `json:"duration_us"`
	Connect    float64 `json:"connect"`
	Read       float64 `json:"read"`
	Write      float64 `json:"write"`
	Status     float64 `json:"status"` // non-2xx/3xx answers
	Timeout    float64 `json:"timeout"`
	P50        float64 `json:"p50"` // microseconds
	P90        float64 `json:"p90"`
	P99        float64 `json:"p99"`
	Max        float64 `json:"max"`

	cpu time.Duration // wrk's own user+system time
}

func (r wrkResult) rps() float64 { return r.Requests / (r.DurationUS / 1e6) }

func (r wrkResult) errors() float64 { return r.Connect + r.Read + r.Write + r.Status + r.Timeout }

// doneLua prints wrk's summary as one JSON line: exact microsecond
// percentiles, and the error counts that wrk's text report splits up.
const doneLua = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCHJSON {"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`

// rotateLua sends each request with the next Host of n (h00000.<domain>...),
// each wrk thread starting at a different place; the requests are built
// once in init so that the per-request Lua cost is a table lookup.
const rotateLua = `
local n = %d
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
init = function(args)
  reqs = {}
  for i = 0, n - 1 do
    reqs[i + 1] = wrk.format("GET", "/", {Host = string.format("h%%05d.%s", i)})
  end
  idx = (id * 7919) %% n
end
request = function()
  idx = idx %% n + 1
  return reqs[idx]
end
`

// writeLua writes the plain and the rotating-host scripts into dir.
func writeLua(dir string, routes int, domain string) (plain, rotate string, err error) {
	plain = filepath.Join(dir, "done.lua")
	rotate = filepath.Join(dir, "rotate.lua")
	if err := os.WriteFile(plain, []byte(doneLua), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(rotate, []byte(fmt.Sprintf(rotateLua, routes, domain)+doneLua), 0o644); err != nil {
		return "", "", err
	}
	return plain, rotate, nil
}

type wrkOpts struct {
	threads, conns int
	duration       time.Duration
	pin            string // taskset CPU list for wrk, or ""
}

// runWrk runs wrk once against url with an optional Host header and script.
func runWrk(ctx context.Context, o wrkOpts, url, host, script string) (wrkResult, error) {
	ctx, cancel := context.WithTimeout(ctx, o.duration+60*time.Second)
	defer cancel()
	args := []string{"wrk", fmt.Sprintf("-t%d", o.threads), fmt.Sprintf("-c%d", o.conns),
		fmt.Sprintf("-d%ds", int(o.duration.Seconds())), "--latency", "--timeout", "5s", "-s", script}
	if host != "" {
		args = append(args, "-H", "Host: "+host)
	}
	args = append(pinned(o.pin, args...), url)
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return wrkResult{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	for _, line := range strings.Split(string(out), "\n") {
		if j, ok := strings.CutPrefix(line, "BENCHJSON "); ok {
			var r wrkResult
			if err := json.Unmarshal([]byte(j), &r); err != nil {
				return wrkResult{}, fmt.Errorf("parse wrk's summary %q: %w", j, err)
			}
			r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
			if r.Requests == 0 {
				return r, fmt.Errorf("wrk completed no request against %s:\n%s", url, out)
			}
			return r, nil
		}
	}
	return wrkResult{}, fmt.Errorf("no summary in wrk's output:\n%s", out)
}
