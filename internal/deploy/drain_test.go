package deploy

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

// TestStopsWaitForDrain: ready instances leave the rotation first and are
// stopped only DrainDelay later, so a connection the proxy opened to them
// just before is served rather than reset. Instances that take no traffic
// stop at once.
func TestStopsWaitForDrain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := e.options()
	opts.DrainDelay = 2 * time.Second
	e.r = New(opts)
	e.apply(appSpec("shop", map[string]*spec.Service{"web": svc(2)}))
	e.settle("shop")
	v2 := svc(2)
	v2.Env = map[string]string{"V": "2"}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": v2}))
	wantCalls(t, "surge", e.pass("shop"), "apply shop-web-r2 x1")

	e.rt.setReady("shop-web-r2", 1)
	wantCalls(t, "one new ready: the new one starts, the old one only leaves the rotation",
		e.pass("shop"), "apply shop-web-r2 x2")
	if eps := e.px.endpoints("shop", "web"); len(eps) != 2 {
		t.Fatalf("endpoints %v, want old #0 and new #0", eps)
	}
	e.clock.Advance(time.Second)
	wantCalls(t, "draining", e.pass("shop"))
	e.clock.Advance(time.Second)
	wantCalls(t, "drained", e.pass("shop"), "apply shop-web-r1 x1")

	e.rt.setReady("shop-web-r2", 2)
	wantCalls(t, "all new ready: old out of rotation", e.pass("shop"))
	if eps := e.px.endpoints("shop", "web"); len(eps) != 2 || e.rt.replicas("shop-web-r1") != 1 {
		t.Fatalf("endpoints %v (want the two new ones), r1 replicas %d", eps, e.rt.replicas("shop-web-r1"))
	}
	e.clock.Advance(2 * time.Second)
	wantCalls(t, "old stopped", e.pass("shop"), "delete shop-web-r1")
	wantCalls(t, "deployed", e.pass("shop"))

	// A release that never served is stopped at once.
	v3 := svc(2)
	v3.Env = map[string]string{"V": "3"}
	e.apply(appSpec("shop", map[string]*spec.Service{"web": v3}))
	e.pass("shop")
	e.rt.edit("shop-web-r3", func(i int, in *runtime.Instance) {
		in.Restarts, in.LastExit = 5, &runtime.Exit{Code: 1}
	})
	wantCalls(t, "failed release", e.pass("shop"), "delete shop-web-r3")
}
