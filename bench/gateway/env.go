package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// target is one way of reaching a backend that wrk measures.
type target struct {
	name   string
	url    string
	host   string       // Host header, or "" for wrk's default
	script string       // wrk Lua script
	pids   func() []int // the proxy's processes, whose CPU time is counted; nil for none
	// backend is the pid of the backend that answers, so that its CPU time
	// is not counted as other load.
	backend int
}

// env is one set of running processes: a backend, the three proxies in
// front of it, and a Berth server with the bench app deployed.
type env struct {
	dir         string
	backendAddr string
	backend     *proc
	nginx       *proc
	haproxy     *proc
	caddy       *proc
	berth       *berthEnv
	targets     []target // direct, nginx, haproxy, caddy, berth
	nginxProcs  int      // master + workers, for the report
	haproxyThr  int      // HAProxy's threads, for the report
}

const benchHost = "bench.localhost"

// startEnv starts everything. With pin, the proxies (and Berth's server)
// run on h.proxyCPU and both backends on h.loadCPU.
func (h *harness) startEnv(ctx context.Context, name string, pin bool) (*env, error) {
	proxyCPU, loadCPU := "", ""
	if pin {
		proxyCPU, loadCPU = h.proxyCPU, h.loadCPU
	}
	e := &env{dir: filepath.Join(h.work, name)}
	started := false
	defer func() {
		if !started {
			h.stopEnv(ctx, e)
		}
	}()
	if err := os.MkdirAll(e.dir, 0o755); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	nginxConf, haproxyCfg, caddyfile, err := writeProxyConfigs(e.dir, h.nginxWorkers, ports[0], ports[1], ports[2], ports[3])
	if err != nil {
		return nil, err
	}
	e.backendAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	sfx := "-" + name
	if e.backend, err = h.ps.start("backend"+sfx, pinned(loadCPU, h.backendBin, "-addr", e.backendAddr)); err != nil {
		return nil, err
	}
	if err := h.waitOK(ctx, e.backend, "http://"+e.backendAddr+"/", ""); err != nil {
		return nil, err
	}
	ndir := filepath.Dir(nginxConf)
	if e.nginx, err = h.ps.start("nginx"+sfx, pinned(proxyCPU, "nginx", "-p", ndir, "-c", nginxConf, "-e", filepath.Join(ndir, "error.log"))); err != nil {
		return nil, err
	}
	if e.haproxy, err = h.ps.start("haproxy"+sfx, pinned(proxyCPU, "haproxy", "-db", "-f", haproxyCfg)); err != nil {
		return nil, err
	}
	caddyHome := filepath.Join(e.dir, "caddy-home")
	if h.caddyBin == "" {
		// Skipped (NO_CADDY=1): its proc stays nil.
	} else if e.caddy, err = h.ps.start("caddy"+sfx, pinned(proxyCPU, h.caddyBin, "run", "--config", caddyfile, "--adapter", "caddyfile"),
		"HOME="+caddyHome, "XDG_DATA_HOME="+filepath.Join(caddyHome, "data"), "XDG_CONFIG_HOME="+filepath.Join(caddyHome, "config")); err != nil {
		return nil, err
	}
	for i, p := range []*proc{e.nginx, e.haproxy, e.caddy} {
		if p == nil {
			continue
		}
		if err := h.waitOK(ctx, p, fmt.Sprintf("http://127.0.0.1:%d/", ports[i+1]), ""); err != nil {
			return nil, err
		}
	}

	if e.berth, err = startBerth(ctx, h.ps, h.berthBin, filepath.Join(e.dir, "berth"), h.berthLogLevel, proxyCPU); err != nil {
		return nil, err
	}
	applied, routed, err := e.berth.deploy(ctx, "bench", h.backendBin, []string{benchHost}, benchHost)
	if err != nil {
		return nil, err
	}
	h.logf("%s: berth apply of the bench app took %s; the gateway routed it after %s", name, applied.Round(time.Millisecond), routed.Round(time.Millisecond))
	if pin {
		// Berth's shim starts the backend on the server's CPU; move it (all
		// its threads) next to wrk like the other backend.
		pid := e.berth.backendPids[0]
		if out, err := exec.CommandContext(ctx, "taskset", "-a", "-p", "-c", loadCPU, strconv.Itoa(pid)).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pin berth's backend (pid %d): %w\n%s", pid, err, out)
		}
	}

	nginxMaster := e.nginx.pid()
	e.nginxProcs = 1 + len(children(nginxMaster))
	e.haproxyThr = threads(e.haproxy.pid())
	one := func(p *proc) func() []int { return func() []int { return []int{p.pid()} } }
	backend := e.backend.pid()
	e.targets = []target{
		{name: "direct", url: "http://" + e.backendAddr + "/", script: h.plainLua, backend: backend},
		{name: "nginx", url: fmt.Sprintf("http://127.0.0.1:%d/", ports[1]), script: h.plainLua, backend: backend,
			pids: func() []int { return append([]int{nginxMaster}, children(nginxMaster)...) }},
		{name: "haproxy", url: fmt.Sprintf("http://127.0.0.1:%d/", ports[2]), script: h.plainLua, backend: backend, pids: one(e.haproxy)},
		{name: "caddy", url: fmt.Sprintf("http://127.0.0.1:%d/", ports[3]), script: h.plainLua, backend: backend, pids: one(e.caddy)},
	}
	if e.caddy == nil {
		e.targets = slices.DeleteFunc(e.targets, func(t target) bool { return t.name == "caddy" })
	}
	e.targets = append(e.targets,
		// The proxy is the server process only: the shim that supervises
		// the backend is not in the request path.
		target{name: "berth", url: "http://" + e.berth.gateway + "/", host: benchHost, script: h.plainLua, pids: one(e.berth.server),
			backend: e.berth.backendPids[0]})
	started = true
	return e, nil
}

func (h *harness) stopEnv(ctx context.Context, e *env) {
	if e.berth != nil {
		e.berth.stop(ctx, h.ps)
	}
	for _, p := range []*proc{e.caddy, e.haproxy, e.nginx, e.backend} {
		if p != nil {
			h.ps.stop(p, 5*time.Second)
		}
	}
}

// waitOK waits until url answers 200 through p, or fails with p's log.
func (h *harness) waitOK(ctx context.Context, p *proc, url, host string) error {
	err := poll(ctx, 30*time.Second, p, func() bool { return httpStatus(url, host, "") == http.StatusOK })
	if err != nil {
		return fmt.Errorf("%s never answered 200 at %s: %w\n%s", p.name, url, err, h.ps.logTail(p.name))
	}
	return nil
}
