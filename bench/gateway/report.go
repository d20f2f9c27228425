package main

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// median of f over runs; NaN values (no proxy) are skipped.
func median[T any](runs []T, f func(T) float64) float64 {
	var v []float64
	for _, r := range runs {
		if x := f(r); !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (h *harness) header(ctx context.Context) {
	w := &h.report
	fmt.Fprintf(w, "Run of %s (UTC); load average before: %s.\n\n", time.Now().UTC().Format("2006-01-02 15:04"), loadAvg())
	fmt.Fprintf(w, "Machine: %d CPUs (%s), %s, Linux %s. wrk, the proxies and the backends share these CPUs (except in the pinned table).\n\n",
		runtime.NumCPU(), cpuModel(), memTotal(), firstLine(ctx, "uname", "-r"))
	fmt.Fprintf(w, "Versions: %s; %s; %s; Caddy %s; Berth %s (%s); backend and load generator built with %s.\n\n",
		firstLine(ctx, "wrk", "-v"), firstLine(ctx, "nginx", "-v"), firstLine(ctx, "haproxy", "-v"),
		caddyVersion(h.caddyBin),
		strings.TrimPrefix(firstLine(ctx, h.berthBin, "version", "--client"), "Client: "), h.berthRev, runtime.Version())
	fmt.Fprintf(w, "Setup: nginx worker_processes %s; HAProxy nbthread default (one per CPU); Caddy and Berth with GOMAXPROCS default (one per CPU); Berth's server --log-level %s; the backend answers a 100-byte body with keep-alive. CPU per request is the proxy's utime+stime (/proc/<pid>/stat, every process and thread of the proxy; for Berth the server process only, not the shim or the backend) over the run, divided by the requests wrk completed.\n\n",
		h.nginxWorkers, h.berthLogLevel)
}

func (h *harness) notes() {
	fmt.Fprintf(&h.report, "Load average after: %s (other work on the machine shows here).\n\n", loadAvg())
	fmt.Fprintf(&h.report, "Other load: the median, over a target's runs, of how many CPUs were busy meanwhile with anything but wrk (or the open-loop generator), the proxy and the backend: other work on a shared machine, plus kernel time not charged to a process. Rounds with much of it are noisy.\n\n")
	fmt.Fprintf(&h.report, "Ratios: req/s ÷ X above 1 is faster than X; p99 ÷ X and CPU ÷ X above 1 is slower or costlier than X. Medians over the rounds; the range is the lowest and highest round.\n")
}

func (h *harness) closedTable(title string, runs []*series) {
	w := &h.report
	fmt.Fprintf(w, "#### %s\n\n", title)
	fmt.Fprintln(w, "| target | req/s (median) | req/s range | p50 | p99 | proxy CPU/req | req/s ÷ direct | req/s ÷ nginx | p99 ÷ direct | p99 ÷ nginx | CPU/req ÷ nginx | other load | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	rps := func(m measurement) float64 { return m.wrk.rps() }
	p50 := func(m measurement) float64 { return m.wrk.P50 }
	p99 := func(m measurement) float64 { return m.wrk.P99 }
	cpu := func(m measurement) float64 { return m.cpuUS }
	base := runs[0]
	var ngx *series
	for _, s := range runs {
		if s.name == "nginx" {
			ngx = s
		}
	}
	ratio := func(a, b float64) string {
		if math.IsNaN(a) || math.IsNaN(b) || b == 0 {
			return "—"
		}
		return fmt.Sprintf("%.2f", a/b)
	}
	for _, s := range runs {
		lo := slices.MinFunc(s.runs, func(a, b measurement) int { return cmpF(rps(a), rps(b)) })
		hi := slices.MaxFunc(s.runs, func(a, b measurement) int { return cmpF(rps(a), rps(b)) })
		var errs float64
		for _, m := range s.runs {
			errs += m.wrk.errors()
		}
		nR, nP99, nCPU := math.NaN(), math.NaN(), math.NaN()
		if ngx != nil {
			nR, nP99, nCPU = median(ngx.runs, rps), median(ngx.runs, p99), median(ngx.runs, cpu)
		}
		c := median(s.runs, cpu)
		cpuText := us(c)
		fmt.Fprintf(w, "| %s | %.0f | %.0f–%.0f | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %.0f |\n",
			s.name, median(s.runs, rps), rps(lo), rps(hi), ms(median(s.runs, p50)), ms(median(s.runs, p99)), cpuText,
			ratio(median(s.runs, rps), median(base.runs, rps)), ratio(median(s.runs, rps), nR),
			ratio(median(s.runs, p99), median(base.runs, p99)), ratio(median(s.runs, p99), nP99),
			ratio(c, nCPU), median(s.runs, func(m measurement) float64 { return m.other }), errs)
	}
	fmt.Fprintln(w)
}

func (h *harness) openTable(title string, names []string, res map[string][]olResult) {
	w := &h.report
	fmt.Fprintf(w, "#### %s\n\n", title)
	fmt.Fprintln(w, "| target | p50 | p90 | p99 | p99.9 | max | p50 added vs direct | p99 added vs direct | proxy CPU/req | generator CPU/req | other load | errors + missed |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	get := func(f func(olResult) float64) func(string) float64 {
		return func(n string) float64 { return median(res[n], f) }
	}
	p50 := get(func(o olResult) float64 { return o.P50 })
	p99 := get(func(o olResult) float64 { return o.P99 })
	for _, n := range names {
		var bad int
		for _, o := range res[n] {
			bad += o.Errors + o.Missed
		}
		added := func(f func(string) float64) string {
			if n == names[0] {
				return "—"
			}
			return signedMS(f(n) - f(names[0]))
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.2f | %d |\n", n,
			ms(p50(n)), ms(get(func(o olResult) float64 { return o.P90 })(n)), ms(p99(n)),
			ms(get(func(o olResult) float64 { return o.P999 })(n)), ms(get(func(o olResult) float64 { return o.Max })(n)),
			added(p50), added(p99), us(get(func(o olResult) float64 { return o.proxyCPU })(n)),
			us(get(func(o olResult) float64 { return o.genCPU })(n)), get(func(o olResult) float64 { return o.other })(n), bad)
	}
	fmt.Fprintln(w)
}

// ms formats microseconds as milliseconds.
func ms(us float64) string {
	if math.IsNaN(us) {
		return "—"
	}
	return fmt.Sprintf("%.2f ms", us/1000)
}

// us formats a CPU time in microseconds.
func us(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.1f µs", v)
}

func signedMS(us float64) string {
	if math.IsNaN(us) {
		return "—"
	}
	return fmt.Sprintf("%+.2f ms", us/1000)
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func firstLine(ctx context.Context, name string, args ...string) string {
	out, _ := exec.CommandContext(ctx, name, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return name + " (version unknown)"
	}
	return strings.TrimPrefix(line, "nginx version: ")
}

func moduleVersion(bin, module string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "(version unknown)"
	}
	if bi.Main.Path == module && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == module {
			return d.Version
		}
	}
	return "(version unknown)"
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	var kb float64
	if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err != nil {
		return "unknown memory"
	}
	return fmt.Sprintf("%.0f GiB", kb/(1<<20))
}

// loadAvg is the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// caddyVersion is Caddy's module version, or a note that the run left it out.
func caddyVersion(bin string) string {
	if bin == "" {
		return "not run (NO_CADDY=1)"
	}
	return moduleVersion(bin, "github.com/caddyserver/caddy/v2")
}
