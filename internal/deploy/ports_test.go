package deploy

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/svcproxy"
)

// TestStablePortTakenMoves: when another process holds a service's stable
// port, the service moves to a new port, stored with the app, and the
// workloads that were started with the old address (its dependents) are
// applied again with the new one. Then all is quiet.
func TestStablePortTakenMoves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(1)}))
	e.settle("shop")
	old := e.app("shop").Ports["api"]
	e.px.mu.Lock()
	e.px.taken[old] = true
	e.px.mu.Unlock()

	wantCalls(t, "port moved", e.pass("shop"))
	port := e.app("shop").Ports["api"]
	if port == old || port == 0 {
		t.Fatalf("api port %d, want a new one (was %d)", port, old)
	}
	if got := e.px.ports["shop/api"]; got != port {
		t.Fatalf("proxy listens for api on %d, want %d", got, port)
	}
	wantCalls(t, "dependents restart", e.pass("shop"), "apply shop-web-r1 x2")
	e.wantAPIAt("127.0.0.1:" + strconv.Itoa(port))
}

// wantAPIAt checks that shop's web (release 1) was started with api at
// addr, that the app's status shows api there, and that the next passes
// change nothing.
func (e *testEnv) wantAPIAt(addr string) {
	e.t.Helper()
	if env := e.rt.applied["shop-web-r1"].Env; env["API_ADDR"] != addr || env["API_URL"] != "http://"+addr {
		e.t.Fatalf("web env %v, want API at %s", env, addr)
	}
	if got := e.app("shop").Status.Services[0]; got.Name != "api" || got.Address != addr {
		e.t.Fatalf("api status %+v, want address %s", got, addr)
	}
	for range 2 {
		wantCalls(e.t, "steady", e.pass("shop"))
	}
}

// TestNewPortSkipsOtherAppsPorts: a port stored for another app is not
// handed out again, even though it is free while that app's address is not
// open (a server that just started).
func TestNewPortSkipsOtherAppsPorts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("blog", map[string]*spec.Service{"web": svc(1)}))
	e.settle("blog")
	blogPort := e.app("blog").Ports["web"]
	e.mu.Lock()
	e.port = blogPort - 1 // the next port AllocPort hands out is blog's
	e.mu.Unlock()
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1)}))
	e.settle("shop")
	if got := e.app("shop").Ports["web"]; got == blogPort {
		t.Fatalf("shop got blog's port %d", got)
	}
}

// TestStablePortTakenAtRestart runs the real service proxy: the server
// stops, another process takes a service's port, the server starts again.
func TestStablePortTakenAtRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	px := svcproxy.New(nil)
	opts := e.options()
	opts.Proxy, opts.AllocPort = px, svcproxy.FreePort
	e.r = New(opts)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(1, "api"), "api": svc(1)}))
	e.settle("shop")
	old := e.app("shop").Ports["api"]

	px.Close()
	stranger, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(old))
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	px2 := svcproxy.New(nil)
	defer px2.Close()
	opts.Proxy = px2
	e.r = New(opts)

	e.pass("shop")
	e.pass("shop")
	port := e.app("shop").Ports["api"]
	if port == old {
		t.Fatal("api kept the port another process holds")
	}
	// The proxy holds the new port.
	if ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
		ln.Close()
		t.Fatalf("nothing listens on api's new port %d", port)
	} else if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatal(err)
	}
	if got := e.rt.applied["shop-web-r1"].Env["API_ADDR"]; got != "127.0.0.1:"+strconv.Itoa(port) {
		t.Fatalf("web still has API_ADDR=%s", got)
	}
	wantCalls(t, "steady", e.pass("shop"))
}
