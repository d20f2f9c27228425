package deploy

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/berthdev/berth/internal/spec"
)

// addrRuntime is the fake runtime with addresses of its own, as the
// Kubernetes runtime has: "<app>-<svc>.ns.svc:<main port>".
type addrRuntime struct{ *fakeRuntime }

func (addrRuntime) ServiceAddress(_ context.Context, app, svc string, s spec.Service) (string, bool, error) {
	port := 8080
	if len(s.Ports) > 0 {
		port = s.Ports[0].Port
	}
	return net.JoinHostPort(app+"-"+svc+".ns.svc", strconv.Itoa(port)), true, nil
}

// TestDependencyAddressOfRuntime: on a runtime with addresses of its own
// (a cluster), dependents are started with the runtime's address of the
// dependency, not the server's local port, the app's status shows it, and
// later passes change nothing.
func TestDependencyAddressOfRuntime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := e.options()
	opts.Runtime = addrRuntime{e.rt}
	e.r = New(opts)
	apiSvc := svc(1)
	apiSvc.Ports = []spec.Port{{Port: 9090}}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": apiSvc}))
	e.settle("shop")

	e.wantAPIAt("shop-api.ns.svc:9090")
}

// TestDependencyAddressMovesToRuntime: workloads started with the local
// port (before the runtime had addresses) are applied again once with the
// runtime's, then all is quiet.
func TestDependencyAddressMovesToRuntime(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2, "api"), "api": svc(1)}))
	e.settle("shop")
	local := "127.0.0.1:" + strconv.Itoa(e.app("shop").Ports["api"])
	if got := e.rt.applied["shop-web-r1"].Env["API_ADDR"]; got != local {
		t.Fatalf("web's API_ADDR %q, want the local port %s", got, local)
	}

	opts := e.options()
	opts.Runtime = addrRuntime{e.rt}
	e.r = New(opts)
	wantCalls(t, "dependents restart", e.pass("shop"), "apply shop-web-r1 x2")
	e.wantAPIAt("shop-api.ns.svc:8080")
}
