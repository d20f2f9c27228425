package gateway

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The CPU benchmark runs the gateway in this process and the backend and
// load generator in a child (this test binary again, with envBenchPeer
// set), so this process's CPU time divided by requests is the gateway's
// cost per request alone.
//
//	BERTH_GW_BENCH=1 go test ./internal/gateway -run TestCPUPerRequest -v
const (
	envBenchPeer = "BERTH_GW_BENCH_PEER"
	envBench     = "BERTH_GW_BENCH"
)

func TestMain(m *testing.M) {
	if os.Getenv(envBenchPeer) == "1" {
		os.Exit(benchPeer())
	}
	os.Exit(m.Run())
}

// benchBody is what the benchmark backend answers: a small API reply.
var benchBody = []byte(`{"id":42,"name":"widget","price":1999,"tags":["a","b"]}`)

func benchBackend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(benchBody)
}

// benchPeer serves the backend, prints its address, waits for
// "ADDR SECONDS CONNS" on stdin, loads ADDR, and prints the requests done.
func benchPeer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: http.HandlerFunc(benchBackend)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	fmt.Println(ln.Addr().String())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var addr string
		var secs float64
		var conns int
		if _, err := fmt.Sscan(in.Text(), &addr, &secs, &conns); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		n, errs := loadgen(addr, "bench.localhost", time.Duration(secs*float64(time.Second)), conns)
		fmt.Println(n, errs)
	}
	return 0
}

// loadgen keeps conns keep-alive connections busy with GETs for d, like
// wrk, with a minimal HTTP/1.1 client so the load costs little CPU.
func loadgen(addr, host string, d time.Duration, conns int) (int64, int64) {
	var done, errs atomic.Int64
	stop := time.Now().Add(d)
	req := []byte("GET /item HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: berth-bench\r\n\r\n")
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs.Add(1)
				return
			}
			defer c.Close()
			br := bufio.NewReaderSize(c, 16<<10)
			for time.Now().Before(stop) {
				if _, err := c.Write(req); err != nil {
					errs.Add(1)
					return
				}
				code, err := readRawResponse(br)
				if err != nil {
					errs.Add(1)
					return
				}
				if code != 200 {
					errs.Add(1)
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	return done.Load(), errs.Load()
}

func readRawResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 {
		return 0, fmt.Errorf("short status line %q", line)
	}
	code, _ := strconv.Atoi(string(line[9:12]))
	cl := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			break
		}
		if len(line) > 16 && bytes.EqualFold(line[:15], []byte("content-length:")) {
			cl, _ = strconv.Atoi(strings.TrimSpace(string(line[15:])))
		}
	}
	if cl < 0 {
		return 0, fmt.Errorf("no content-length")
	}
	_, err = br.Discard(cl)
	return code, err
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reverseProxyBaseline is the gateway's first version: httputil.ReverseProxy
// with a pooled copy buffer and a tuned Transport.
func reverseProxyBaseline(backendAddr string) http.Handler {
	target := &url.URL{Scheme: "http", Host: backendAddr}
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 256,
			IdleConnTimeout:     90 * time.Second,
		},
		BufferPool: baselineBuffers{},
	}
}

type baselineBuffers struct{}

var baselinePool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (baselineBuffers) Get() []byte  { return *baselinePool.Get().(*[]byte) }
func (baselineBuffers) Put(b []byte) { baselinePool.Put(&b) }

// TestCPUPerRequest measures process CPU per request of the gateway and of
// the ReverseProxy baseline under 64 keep-alive connections.
func TestCPUPerRequest(t *testing.T) {
	if os.Getenv(envBench) == "" {
		t.Skip("set " + envBench + "=1 to run the CPU benchmark (about 20 s)")
	}
	secs, rounds := 3.0, 3
	if v, err := strconv.ParseFloat(os.Getenv(envBench), 64); err == nil && v >= 1 {
		secs = v
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envBenchPeer+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	out := bufio.NewScanner(stdout)
	if !out.Scan() {
		t.Fatal("peer did not start")
	}
	backendAddr := out.Text()

	g := newTestGateway(t, Options{})
	r := simpleRoute("bench/0", "bench.localhost", "/", backendAddr)
	mustLoad(t, g, r)

	type result struct{ cpuPerReq, rps float64 }
	run := func(name string, h http.Handler) result {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := g.NewServer()
		srv.Handler = h
		sl := ln
		if h == http.Handler(g) {
			sl = g.Listener(ln) // the gateway's own server, as berth serves it
		}
		go func() { _ = srv.Serve(sl) }()
		defer srv.Close()
		// Warm up connections and pools first.
		fmt.Fprintf(stdin, "%s %g %d\n", ln.Addr(), 0.3, 64)
		out.Scan()
		if path := os.Getenv("BERTH_GW_BENCH_PROFILE"); path != "" && name == "berth" {
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
		before := cpuTime()
		start := time.Now()
		fmt.Fprintf(stdin, "%s %g %d\n", ln.Addr(), secs, 64)
		if !out.Scan() {
			t.Fatal("peer died")
		}
		cpu := cpuTime() - before
		wall := time.Since(start)
		var n, errs int64
		fmt.Sscan(out.Text(), &n, &errs)
		if n == 0 {
			t.Fatalf("%s: no requests", name)
		}
		if errs > 0 {
			t.Errorf("%s: %d errors", name, errs)
		}
		res := result{float64(cpu.Nanoseconds()) / 1000 / float64(n), float64(n) / wall.Seconds()}
		t.Logf("%-12s %8.0f req/s  %6.1f µs CPU/request  (%d requests, %.1f s CPU over %.1f s)",
			name, res.rps, res.cpuPerReq, n, cpu.Seconds(), wall.Seconds())
		return res
	}
	// The floor: net/http answering by itself, no proxying.
	direct := http.HandlerFunc(benchBackend)
	modes := []struct {
		name string
		h    http.Handler
	}{
		{"direct", direct}, {"reverseproxy", reverseProxyBaseline(backendAddr)}, {"berth-nethttp", berthNetHTTP{g}}, {"berth", g},
	}
	// BERTH_GW_BENCH_MODES=berth,reverseproxy runs only those modes (a
	// before/after comparison needs only "berth"; the others take time).
	if only := os.Getenv("BERTH_GW_BENCH_MODES"); only != "" {
		keep := modes[:0]
		for _, m := range modes {
			if strings.Contains(","+only+",", ","+m.name+",") {
				keep = append(keep, m)
			}
		}
		modes = keep
	}
	results := map[string][]result{}
	for range rounds {
		for _, m := range modes {
			results[m.name] = append(results[m.name], run(m.name, m.h))
		}
	}
	median := func(rs []result) result {
		sort.Slice(rs, func(i, j int) bool { return rs[i].cpuPerReq < rs[j].cpuPerReq })
		return rs[len(rs)/2]
	}
	for _, m := range modes {
		r := median(results[m.name])
		if rp := results["reverseproxy"]; len(rp) > 0 {
			t.Logf("median %-12s %6.1f µs CPU/request  %8.0f req/s  (%.2fx reverseproxy CPU)", m.name, r.cpuPerReq, r.rps, r.cpuPerReq/median(rp).cpuPerReq)
		} else {
			t.Logf("median %-12s %6.1f µs CPU/request  %8.0f req/s", m.name, r.cpuPerReq, r.rps)
		}
	}
}

// berthNetHTTP is the gateway behind net/http's server (as on TLS
// listeners), for comparison with its own server.
type berthNetHTTP struct{ g *Gateway }

func (b berthNetHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.g.ServeHTTP(w, r) }

// BenchmarkGateway runs everything in one process, for profiles and
// allocation counts: go test -bench Gateway -benchmem -cpuprofile cpu.out
func BenchmarkGateway(b *testing.B) {
	for _, tc := range []struct {
		desc string
		h    func(backend string, g *Gateway) http.Handler
	}{
		{desc: "berth", h: func(_ string, g *Gateway) http.Handler { return g }},
		{desc: "reverseproxy", h: func(be string, _ *Gateway) http.Handler { return reverseProxyBaseline(be) }},
	} {
		b.Run(tc.desc, func(b *testing.B) {
			be := backend(b, "", benchBackend)
			g := newTestGateway(b, Options{})
			mustLoad(b, g, simpleRoute("bench/0", "bench.localhost", "/", be))
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := g.NewServer()
			srv.Handler = tc.h(be, g)
			go func() { _ = srv.Serve(ln) }()
			defer srv.Close()
			benchRequests(b, ln.Addr().String(), 64)
		})
	}
}

// benchRequests sends b.N requests over conns connections.
func benchRequests(b *testing.B, addr string, conns int) {
	req := []byte("GET /item HTTP/1.1\r\nHost: bench.localhost\r\n\r\n")
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				b.Error(err)
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for next.Add(1) <= int64(b.N) {
				if _, err := c.Write(req); err != nil {
					b.Error(err)
					return
				}
				if code, err := readRawResponse(br); err != nil || code != 200 {
					b.Errorf("response %d %v", code, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = io.Discard
}
