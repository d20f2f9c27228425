package kube

import (
	"strconv"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/berthdev/berth/internal/runtime"
)

// TestInstancesAreServiceEndpoints: on a real control plane, a ready
// instance's address is its pod's endpoint in the Service's EndpointSlice
// (what a gateway in the cluster sends requests to), and an instance
// leaves the ready set once its endpoint is not ready.
func TestInstancesAreServiceEndpoints(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	w := webWorkload(1, 2)
	mustApply(t, rt, w)
	ws := waitReady(t, rt, w.ID, 2)
	list, err := rt.client.DiscoveryV1().EndpointSlices(rt.Namespace()).List(ctxFor(t, 10*time.Second),
		metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + w.ID})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, s := range list.Items {
		for _, e := range s.Endpoints {
			want[e.TargetRef.Name] = e.Addresses[0] + ":" + strconv.Itoa(int(*s.Ports[0].Port))
		}
	}
	for _, in := range ws.Instances {
		if got := in.Host + ":" + strconv.Itoa(in.Port); in.Host == "" || got != want[in.ID] {
			t.Errorf("instance %s at %s, its endpoint is %q", in.ID, got, want[in.ID])
		}
	}
}

// TestWithEndpoint: a ready pod is ready only as a ready endpoint.
func TestWithEndpoint(t *testing.T) {
	t.Parallel()
	ready := runtime.Instance{ID: "p", Ready: true, State: runtime.StateRunning, Host: "10.0.0.1", Port: 8080}
	for _, tt := range []struct {
		desc  string
		in    runtime.Instance
		eps   map[string]endpoint
		ready bool
		addr  string
		msg   string
	}{
		{desc: "not yet an endpoint", in: ready, eps: nil, msg: "waiting to be added"},
		{desc: "endpoint not ready", in: ready, eps: map[string]endpoint{"p": {addr: "10.0.0.1", port: 8080}}, msg: "not ready yet"},
		{desc: "ready endpoint", in: ready, eps: map[string]endpoint{"p": {addr: "10.0.0.9", port: 9090, ready: true}}, ready: true, addr: "10.0.0.9:9090"},
		{desc: "pod not ready", in: runtime.Instance{ID: "p", State: runtime.StateStarting}, eps: map[string]endpoint{"p": {addr: "10.0.0.1", port: 8080, ready: true}}},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			got := withEndpoint(tt.in, tt.eps)
			if got.Ready != tt.ready || (tt.addr != "" && got.Host+":"+strconv.Itoa(got.Port) != tt.addr) || !strings.Contains(got.Message, tt.msg) {
				t.Errorf("%+v", got)
			}
		})
	}
}
