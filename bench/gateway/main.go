// Command gateway measures Berth's gateway against the same backend reached
// directly and through nginx, HAProxy and Caddy, all in one run on
// 127.0.0.1, and prints a Markdown report of medians and ratios. It is
// started by bench/gateway/run.sh, which builds the binaries it needs and
// installs the tools; see that script for the knobs.
//
// Phases (-phases, comma-separated, in this order):
//
//	main      wrk against direct, nginx, haproxy, caddy, berth; rounds interleaved
//	openloop  a fixed rate (a fraction of the saturated rate) against direct,
//	          nginx and berth, latency timed from each request's intended send time
//	routes    Berth with a second app holding -routes routes
//	pinned    fresh processes: proxies on one CPU, wrk and the backend on the other
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type harness struct {
	berthBin, backendBin, openloopBin, caddyBin string
	work, out                                   string
	wrk                                         wrkOpts
	rounds                                      int
	warmup                                      time.Duration
	nginxWorkers, berthLogLevel                 string
	routes                                      int
	fractions                                   []float64
	openloopDuration                            time.Duration
	proxyCPU, loadCPU                           string
	quietWait                                   time.Duration
	quietCPUs                                   float64
	phases                                      []string
	berthRev                                    string

	ps                  *procs
	clk                 float64
	plainLua, rotateLua string
	report              strings.Builder
}

func main() {
	h := &harness{}
	var phases, fractions string
	flag.StringVar(&h.berthBin, "berth", "bin/berth", "the berth binary")
	flag.StringVar(&h.backendBin, "backend", "", "the backend binary (bench/gateway/backend)")
	flag.StringVar(&h.openloopBin, "openloop", "", "the open-loop generator (bench/gateway/openloop)")
	flag.StringVar(&h.caddyBin, "caddy", "", "the caddy binary")
	flag.StringVar(&h.work, "work", "", "scratch folder for data dirs, configs and logs (required)")
	flag.StringVar(&h.out, "out", "", "folder for report.md (default: -work)")
	flag.IntVar(&h.wrk.threads, "threads", 2, "wrk threads")
	flag.IntVar(&h.wrk.conns, "conns", 64, "wrk connections (also the open-loop generator's)")
	flag.DurationVar(&h.wrk.duration, "duration", 10*time.Second, "each wrk run (whole seconds)")
	flag.IntVar(&h.rounds, "rounds", 3, "rounds; each round runs every target once")
	flag.DurationVar(&h.warmup, "warmup", 2*time.Second, "an unmeasured wrk run per target before the rounds (0: none)")
	flag.StringVar(&h.nginxWorkers, "nginx-workers", "auto", "nginx worker_processes")
	flag.StringVar(&h.berthLogLevel, "berth-log-level", "info", "berth server --log-level")
	flag.IntVar(&h.routes, "routes", 10000, "routes in the routes phase's second app")
	flag.StringVar(&fractions, "fractions", "0.25,0.5", "open-loop rates, each a fraction of the lowest saturated rate of direct, nginx and berth")
	flag.DurationVar(&h.openloopDuration, "openloop-duration", 10*time.Second, "each open-loop run")
	flag.StringVar(&h.proxyCPU, "proxy-cpu", "0", "the CPU the proxies run on in the pinned phase")
	flag.StringVar(&h.loadCPU, "load-cpu", "1", "the CPU wrk and the backends run on in the pinned phase")
	flag.DurationVar(&h.quietWait, "quiet-wait", 2*time.Minute, "before each run, wait up to this long for the machine to be idle (0: do not wait)")
	flag.Float64Var(&h.quietCPUs, "quiet-cpus", 0.3, "idle means fewer CPUs busy than this")
	flag.StringVar(&h.berthRev, "berth-rev", "unknown revision", "the Berth revision measured, for the report")
	flag.StringVar(&phases, "phases", "main,openloop,routes,pinned", "phases to run")
	flag.Parse()
	h.phases = strings.Split(phases, ",")
	for _, f := range strings.Split(fractions, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v <= 0 || v > 1 {
			fmt.Fprintf(os.Stderr, "gateway bench: -fractions: expected numbers in (0, 1] separated by commas, got %q\n", fractions)
			os.Exit(2)
		}
		h.fractions = append(h.fractions, v)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := h.run(ctx); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted; every process started was stopped (%w)", err)
		}
		fmt.Fprintln(os.Stderr, "gateway bench:", err)
		stop()
		os.Exit(1)
	}
}

func (h *harness) check() error {
	var errs []error
	if h.work == "" {
		errs = append(errs, errors.New("-work is required"))
	}
	for flagName, path := range map[string]string{"-berth": h.berthBin, "-backend": h.backendBin, "-openloop": h.openloopBin, "-caddy": h.caddyBin} {
		if flagName == "-caddy" && path == "" {
			continue // no Caddy in this run
		}
		if fi, err := os.Stat(path); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s: expected an executable file, got %q", flagName, path))
		}
	}
	for _, p := range h.phases {
		if !slices.Contains([]string{"main", "openloop", "routes", "pinned"}, p) {
			errs = append(errs, fmt.Errorf("-phases: unknown phase %q (main, openloop, routes, pinned)", p))
		}
	}
	if slices.Contains(h.phases, "openloop") && !slices.Contains(h.phases, "main") {
		errs = append(errs, errors.New("-phases: openloop needs main (its rate is a fraction of main's saturated rate)"))
	}
	if h.rounds < 1 || h.wrk.threads < 1 || h.wrk.conns < h.wrk.threads || h.wrk.duration < time.Second {
		errs = append(errs, errors.New("-rounds, -threads must be >= 1, -conns >= -threads, -duration >= 1s"))
	}
	return errors.Join(errs...)
}

func (h *harness) run(ctx context.Context) error {
	if err := h.check(); err != nil {
		return err
	}
	for _, p := range []*string{&h.berthBin, &h.backendBin, &h.openloopBin, &h.caddyBin, &h.work} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	if h.out == "" {
		h.out = h.work
	}
	logs := filepath.Join(h.work, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	h.ps = &procs{logDir: logs}
	defer h.ps.stopAll()
	h.clk = clockTicks()
	var err error
	if h.plainLua, h.rotateLua, err = writeLua(h.work, h.routes, "routes.localhost"); err != nil {
		return err
	}
	h.header(ctx)

	has := func(p string) bool { return slices.Contains(h.phases, p) }
	if has("main") || has("openloop") || has("routes") {
		if err := h.unpinned(ctx, has); err != nil {
			return err
		}
	}
	if has("pinned") {
		if err := h.pinned(ctx); err != nil {
			return err
		}
	}
	h.notes()
	fmt.Print(h.report.String())
	path := filepath.Join(h.out, "report.md")
	if err := os.WriteFile(path, []byte(h.report.String()), 0o644); err != nil {
		return err
	}
	h.logf("report written to %s; logs in %s", path, logs)
	return nil
}

// unpinned runs the main, openloop and routes phases on one set of processes.
func (h *harness) unpinned(ctx context.Context, has func(string) bool) error {
	e, err := h.startEnv(ctx, "unpinned", false)
	if err != nil {
		return err
	}
	defer h.stopEnv(ctx, e)
	h.logf("nginx runs %d processes (master + workers, worker_processes %s); HAProxy %d threads", e.nginxProcs, h.nginxWorkers, e.haproxyThr)
	var main []*series
	if has("main") {
		title := fmt.Sprintf("Closed loop, unpinned: wrk -t%d -c%d -d%s, %d rounds interleaved (nginx: master + %d workers; HAProxy: %d threads)",
			h.wrk.threads, h.wrk.conns, h.wrk.duration, h.rounds, e.nginxProcs-1, e.haproxyThr)
		if main, err = h.closedLoop(ctx, title, e.targets, h.wrk); err != nil {
			return err
		}
	}
	if has("openloop") {
		if err := h.openLoopPhase(ctx, e, main, ""); err != nil {
			return err
		}
	}
	if has("routes") && h.routes > 0 {
		if err := h.routesPhase(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) pinned(ctx context.Context) error {
	e, err := h.startEnv(ctx, "pinned", true)
	if err != nil {
		return err
	}
	defer h.stopEnv(ctx, e)
	h.logf("pinned: nginx runs %d processes (master + workers); HAProxy %d threads", e.nginxProcs, e.haproxyThr)
	wo := h.wrk
	wo.pin = h.loadCPU
	title := fmt.Sprintf("Closed loop, pinned: proxy on CPU %s; wrk and backend on CPU %s; wrk -t%d -c%d -d%s, %d rounds interleaved (nginx: master + %d workers; HAProxy: %d threads)",
		h.proxyCPU, h.loadCPU, wo.threads, wo.conns, wo.duration, h.rounds, e.nginxProcs-1, e.haproxyThr)
	main, err := h.closedLoop(ctx, title, e.targets, wo)
	if err != nil || !slices.Contains(h.phases, "openloop") {
		return err
	}
	// The same open loop with the proxy alone on its CPU: what the proxy
	// adds to the tail without fighting the generator and the backend
	// for a core.
	return h.openLoopPhase(ctx, e, main, h.loadCPU)
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
