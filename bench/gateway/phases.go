package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"time"
)

// measurement is one wrk run of one target.
type measurement struct {
	wrk   wrkResult
	cpuUS float64 // the proxy's CPU time per request in µs; NaN without a proxy
	other float64 // CPUs busy with other work meanwhile (see cpuSample.since)
}

// series is every measured run of one target.
type series struct {
	name string
	runs []measurement
}

// closedLoop runs wrk against each target once per round, interleaved, after
// one unmeasured warm-up run each, and adds a table to the report.
func (h *harness) closedLoop(ctx context.Context, title string, targets []target, wo wrkOpts) ([]*series, error) {
	h.logf("== %s", title)
	if h.warmup > 0 {
		w := wo
		w.duration = max(h.warmup.Truncate(time.Second), time.Second)
		for _, t := range targets {
			if _, err := runWrk(ctx, w, t.url, t.host, t.script); err != nil {
				return nil, fmt.Errorf("warm-up of %s: %w", t.name, err)
			}
		}
	}
	out := make([]*series, len(targets))
	for i, t := range targets {
		out[i] = &series{name: t.name}
	}
	for r := range h.rounds {
		for i, t := range targets {
			m, err := h.measure(ctx, wo, t)
			if err != nil {
				return nil, fmt.Errorf("round %d, %s: %w", r+1, t.name, err)
			}
			out[i].runs = append(out[i].runs, m)
			h.logf("round %d %-28s %9.0f req/s  p50 %7.0f µs  p99 %7.0f µs  proxy CPU %6.1f µs/req  errors %.0f  other load %.2f CPUs",
				r+1, t.name, m.wrk.rps(), m.wrk.P50, m.wrk.P99, m.cpuUS, m.wrk.errors(), m.other)
		}
	}
	h.closedTable(title, out)
	return out, nil
}

func (h *harness) measure(ctx context.Context, wo wrkOpts, t target) (measurement, error) {
	if err := h.waitQuiet(ctx); err != nil {
		return measurement{}, err
	}
	var pids []int
	if t.pids != nil {
		pids = t.pids()
	}
	before := sampleCPU(pids, []int{t.backend})
	res, err := runWrk(ctx, wo, t.url, t.host, t.script)
	if err != nil {
		return measurement{}, err
	}
	proxySec, other := before.since(h.clk, res.cpu)
	m := measurement{wrk: res, cpuUS: math.NaN(), other: other}
	if t.pids != nil {
		m.cpuUS = proxySec * 1e6 / res.Requests
	}
	return m, nil
}

// olResult is what bench/gateway/openloop prints.
type olResult struct {
	Rate      float64 `json:"rate"`
	Due       int     `json:"due"`
	Completed int     `json:"completed"`
	Errors    int     `json:"errors"`
	Missed    int     `json:"missed"`
	P50       float64 `json:"p50_us"`
	P90       float64 `json:"p90_us"`
	P99       float64 `json:"p99_us"`
	P999      float64 `json:"p999_us"`
	Max       float64 `json:"max_us"`

	proxyCPU float64 // the proxy's CPU per request sent (warm-up included), µs; NaN for none
	genCPU   float64 // the generator's own CPU per request sent, µs
	other    float64 // CPUs busy with other work meanwhile (see cpuSample.since)
}

// openLoopPhase sends a fixed rate to direct, nginx, haproxy and berth: each
// given fraction of the lowest saturated rate the main phase measured for
// direct, nginx and berth,
// so that each is loaded to at most that fraction of what it can do.
// pin, if not empty, is the taskset CPU list of the generator (the pinned
// phase: the proxies have the other CPU to themselves).
func (h *harness) openLoopPhase(ctx context.Context, e *env, main []*series, pin string) error {
	for _, f := range h.fractions {
		if err := h.openLoopAt(ctx, e, main, f, pin); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) openLoopAt(ctx context.Context, e *env, main []*series, fraction float64, pin string) error {
	names := []string{"direct", "nginx", "berth"}
	lowest := math.Inf(1)
	for _, s := range main {
		if containsName(names, s.name) {
			lowest = min(lowest, median(s.runs, func(m measurement) float64 { return m.wrk.rps() }))
		}
	}
	rate := math.Round(lowest * fraction)
	title := fmt.Sprintf("Open loop at a fixed %.0f req/s (%.0f %% of the lowest saturated median of direct, nginx, berth), %d connections, %s per run, %d rounds interleaved",
		rate, fraction*100, h.wrk.conns, h.openloopDuration, h.rounds)
	if pin != "" {
		title = fmt.Sprintf("Pinned open loop (proxy on CPU %s; generator and backend on CPU %s) at a fixed %.0f req/s (%.0f %% of the lowest pinned saturated median of direct, nginx, berth), %d connections, %s per run, %d rounds interleaved",
			h.proxyCPU, pin, rate, fraction*100, h.wrk.conns, h.openloopDuration, h.rounds)
	}
	h.logf("== %s", title)
	var targets []target
	var shown []string // direct first: the table adds to it
	for _, t := range e.targets {
		if containsName(names, t.name) || t.name == "haproxy" {
			targets = append(targets, t)
			shown = append(shown, t.name)
		}
	}
	res := map[string][]olResult{}
	for r := range h.rounds {
		for _, t := range targets {
			o, err := h.runOpenLoop(ctx, t, rate, pin)
			if err != nil {
				return fmt.Errorf("open loop round %d, %s: %w", r+1, t.name, err)
			}
			res[t.name] = append(res[t.name], o)
			h.logf("round %d %-8s p50 %7.0f µs  p99 %7.0f µs  p99.9 %7.0f µs  max %7.0f µs  errors %d missed %d  other load %.2f CPUs",
				r+1, t.name, o.P50, o.P99, o.P999, o.Max, o.Errors, o.Missed, o.other)
		}
	}
	h.openTable(title, shown, res)
	return nil
}

func (h *harness) runOpenLoop(ctx context.Context, t target, rate float64, pin string) (olResult, error) {
	if err := h.waitQuiet(ctx); err != nil {
		return olResult{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, h.openloopDuration+2*time.Minute)
	defer cancel()
	args := []string{"-url", t.url, "-rate", fmt.Sprint(rate), "-duration", h.openloopDuration.String(),
		"-warmup", "1s", "-conns", fmt.Sprint(h.wrk.conns)}
	if t.host != "" {
		args = append(args, "-host", t.host)
	}
	var pids []int
	if t.pids != nil {
		pids = t.pids()
	}
	before := sampleCPU(pids, []int{t.backend})
	argv := pinned(pin, append([]string{h.openloopBin}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	out, err := cmd.Output()
	if err != nil {
		return olResult{}, fmt.Errorf("openloop %s: %w", strings.Join(args, " "), err)
	}
	// Includes the unmeasured warm-up second, at the same rate.
	sent := rate * (h.openloopDuration + time.Second).Seconds()
	var o olResult
	if err := json.Unmarshal(out, &o); err != nil {
		return olResult{}, fmt.Errorf("parse openloop's output %q: %w", out, err)
	}
	gen := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	proxySec, other := before.since(h.clk, gen)
	o.proxyCPU, o.other = math.NaN(), other
	if t.pids != nil {
		o.proxyCPU = proxySec * 1e6 / sent
	}
	o.genCPU = float64(gen) / float64(time.Microsecond) / sent
	return o, nil
}

// routesPhase deploys a second app with h.routes routes (one host each) on
// the running Berth server and measures its gateway with that table: the
// bench app's host as before, and requests spread over all the new hosts.
// direct with the same rotating script is the baseline that carries the
// same Lua cost in wrk.
func (h *harness) routesPhase(ctx context.Context, e *env) error {
	hosts := make([]string, h.routes)
	for i := range hosts {
		hosts[i] = fmt.Sprintf("h%05d.routes.localhost", i)
	}
	h.logf("deploying an app with %d routes", h.routes)
	applied, routed, err := e.berth.deploy(ctx, "routes", h.backendBin, hosts, hosts[len(hosts)-1])
	if err != nil {
		return err
	}
	h.logf("berth apply of %d routes took %s; the gateway routed the last host after %s", h.routes, applied.Round(time.Millisecond), routed.Round(time.Millisecond))
	var direct, berth target
	for _, t := range e.targets {
		switch t.name {
		case "direct":
			direct = t
		case "berth":
			berth = t
		}
	}
	direct.name, direct.script = "direct, rotating Host", h.rotateLua
	one := berth
	one.name = "berth, " + benchHost
	spread := berth
	spread.name, spread.host, spread.script = fmt.Sprintf("berth, %d hosts rotating", h.routes), "", h.rotateLua
	spread.backend = e.berth.backendPids[len(e.berth.backendPids)-1]
	title := fmt.Sprintf("Berth with %d more routes (%d in the table; apply took %s, the last host routed %s after apply started); wrk -t%d -c%d -d%s, %d rounds interleaved",
		h.routes, h.routes+1, applied.Round(time.Millisecond), routed.Round(time.Millisecond), h.wrk.threads, h.wrk.conns, h.wrk.duration, h.rounds)
	_, err = h.closedLoop(ctx, title, []target{direct, one, spread}, h.wrk)
	return err
}

func containsName(names []string, n string) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// waitQuiet waits, at most h.quietWait, until the machine has been nearly
// idle for a second (less than h.quietCPUs busy), so that a run does not
// start in the middle of someone else's build on a shared machine. The
// benchmark's own processes are idle between runs, so all of this load is
// other work. After the wait it goes on regardless; the report's "other
// load" column shows what the run shared the machine with.
func (h *harness) waitQuiet(ctx context.Context) error {
	if h.quietWait <= 0 {
		return nil
	}
	deadline := time.Now().Add(h.quietWait)
	waited := false
	for {
		t0, b0 := time.Now(), busyTicks()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
		busy := float64(busyTicks()-b0) / h.clk / time.Since(t0).Seconds()
		if busy < h.quietCPUs {
			if waited {
				h.logf("the machine is quiet again (%.2f CPUs busy)", busy)
			}
			return nil
		}
		if time.Now().After(deadline) {
			h.logf("the machine is still busy (%.2f CPUs) after %s; measuring anyway", busy, h.quietWait)
			return nil
		}
		if !waited {
			h.logf("waiting for the machine to quieten: %.2f CPUs busy with other work", busy)
			waited = true
		}
	}
}
