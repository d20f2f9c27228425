package kube

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/spec"
)

func TestAddressName(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 40)
	tests := []struct {
		desc, app, svc, want string
	}{
		{desc: "app and service", app: "shop", svc: "api", want: "shop-api"},
		{desc: "ends like a workload", app: "shop", svc: "api-r2", want: "shop-api-r2-svc"},
		{desc: "digits without r", app: "shop", svc: "api-2", want: "shop-api-2"},
		{desc: "too long", app: long, svc: long, want: objectName(long + "-" + long)},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			got := AddressName(tc.app, tc.svc)
			if got != tc.want || len(got) > maxName {
				t.Fatalf("AddressName(%q, %q) = %q, want %q", tc.app, tc.svc, got, tc.want)
			}
		})
	}
}

// The address Service of a service selects the pods of every workload of
// it by name of port, whatever the release.
func TestAddressServiceObject(t *testing.T) {
	t.Parallel()
	w := apiWorkload(3, 1)
	w.Spec.Ports = []spec.Port{{Port: 9090}, {Port: 9100, Name: "metrics"}}
	s := addressService(w, "ns")
	if *s.Name != "shop-api" || s.Labels[LabelRole] != RoleAddress || s.Labels[LabelWorkload] != "" || s.Labels[LabelRelease] != "" {
		t.Fatalf("name %s labels %v", *s.Name, s.Labels)
	}
	if want := addressSelector("shop", "api"); !maps.Equal(s.Spec.Selector, want) {
		t.Fatalf("selector %v, want %v", s.Spec.Selector, want)
	}
	var ports []string
	for _, p := range s.Spec.Ports {
		ports = append(ports, fmt.Sprintf("%s:%d->%s", *p.Name, *p.Port, p.TargetPort.String()))
	}
	if want := []string{"main:9090->main", "metrics:9100->metrics"}; !slices.Equal(ports, want) {
		t.Fatalf("ports %v, want %v", ports, want)
	}
}

// apiWorkload is service api of app "shop" at the given release.
func apiWorkload(release, replicas int) runtime.Workload {
	return runtime.Workload{
		ID: fmt.Sprintf("shop-api-r%d", release), App: "shop", Service: "api", Release: release, Replicas: replicas,
		Spec: spec.Service{Image: testImage, Ports: []spec.Port{{Port: 9090}}},
	}
}

// On a real control plane: the address Service of a service exists while
// any workload of it does, its EndpointSlices list the pods of every
// release (a stable and a canary track), it comes back when deleted
// behind Berth's back, and it goes with the service's last workload.
func TestAddressService(t *testing.T) {
	t.Parallel()
	c := sharedCluster(t)
	rt := newRuntime(t, c)
	r1, r2 := apiWorkload(1, 2), apiWorkload(2, 1)
	mustApply(t, rt, r1)
	waitReady(t, rt, r1.ID, 2)

	addr, ok, err := rt.ServiceAddress(context.Background(), "shop", "api", r1.Spec)
	if want := "shop-api." + rt.Namespace() + ".svc:9090"; err != nil || !ok || addr != want {
		t.Fatalf("ServiceAddress = %q %v %v, want %q", addr, ok, err, want)
	}
	sel := kubectl(t, c, rt, "get", "service", "shop-api", "-o", "jsonpath={.spec.selector}")
	for _, kv := range []string{`"app.kubernetes.io/managed-by":"berth"`, `"berth.dev/app":"shop"`, `"berth.dev/service":"api"`} {
		if !strings.Contains(sel, kv) {
			t.Errorf("selector %s lacks %s", sel, kv)
		}
	}
	if strings.Contains(sel, LabelWorkload) {
		t.Errorf("selector %s names one workload", sel)
	}
	if got := kubectl(t, c, rt, "get", "service", "shop-api", "-o", "jsonpath={.spec.ports[*].port}/{.spec.ports[*].targetPort}"); got != "9090/main" {
		t.Errorf("ports %s, want 9090/main", got)
	}

	// A canary beside the stable release: both tracks are endpoints.
	mustApply(t, rt, r2)
	waitReady(t, rt, r2.ID, 1)
	eventually(t, "the address's endpoints of both releases", func() string {
		out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "endpointslices",
			"-l", "kubernetes.io/service-name=shop-api", "-o", `jsonpath={range .items[*].endpoints[*]}{.targetRef.name}{" "}{.conditions.ready}{"\n"}{end}`)
		if err != nil {
			return err.Error()
		}
		n := map[string]int{}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, ready, _ := strings.Cut(line, " ")
			if ready != "true" {
				continue
			}
			switch {
			case strings.HasPrefix(name, "shop-api-r1-"):
				n["r1"]++
			case strings.HasPrefix(name, "shop-api-r2-"):
				n["r2"]++
			}
		}
		if n["r1"] != 2 || n["r2"] != 1 {
			return fmt.Sprintf("ready endpoints %v: %q", n, out)
		}
		return ""
	})
	// Each workload's own Service still has only its pods.
	if ws, err := rt.Status(context.Background(), r2.ID); err != nil || ws.Ready != 1 {
		t.Fatalf("canary status %+v %v", ws, err)
	}

	uid := kubectl(t, c, rt, "get", "service", "shop-api", "-o", "jsonpath={.metadata.uid}")
	kubectl(t, c, rt, "delete", "service", "shop-api")
	eventually(t, "the address Service back", func() string {
		out, err := c.Kubectl(context.Background(), "-n", rt.Namespace(), "get", "service", "shop-api", "-o", "jsonpath={.metadata.uid}")
		if err != nil || string(out) == uid {
			return fmt.Sprintf("not recreated yet: %q %v", out, err)
		}
		return ""
	})

	// The canary aborted: the address stays, for the stable release.
	if err := rt.Delete(ctxFor(t, waitTimeout), r2.ID); err != nil {
		t.Fatal(err)
	}
	kubectl(t, c, rt, "get", "service", "shop-api")
	// The service left the spec: its last workload takes the address.
	if err := rt.Delete(ctxFor(t, waitTimeout), r1.ID); err != nil {
		t.Fatal(err)
	}
	if out := kubectl(t, c, rt, "get", "services", "-l", LabelRole+"="+RoleAddress, "-o", "name"); out != "" {
		t.Fatalf("address Service left after the service's last workload: %s", out)
	}
	time.Sleep(time.Second) // a repair pass would have run by now
	if out := kubectl(t, c, rt, "get", "services", "-o", "name"); out != "" {
		t.Fatalf("services came back: %s", out)
	}
}
