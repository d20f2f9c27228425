package clusterroute

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	gwv1 "sigs.k8s.io/gateway-api/apis/v1"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/store"
)

// roundTrip turns an apply configuration into the object it declares.
func roundTrip[T any](t *testing.T, ac any) T {
	t.Helper()
	b, err := json.Marshal(ac)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestHTTPRoute: tracks become weighted backendRefs to each release's
// Service on the service's port; methods become ORed matches, headers
// ANDed in each; the parent may name another namespace.
func TestHTTPRoute(t *testing.T) {
	t.Parallel()
	env := store.Environment{Name: "prod", Namespace: "shop", Routing: "gateway-api", GatewayParent: "infra/edge"}
	r := gateway.Route{ID: "shop/1", App: "shop", Service: "api", Host: "Shop.Example.com.", Path: "/api/", Methods: []string{"get", "POST"},
		Headers: []gateway.HeaderMatch{{Name: "X-A", Value: "1"}},
		Tracks: []gateway.Track{
			{Name: gateway.TrackStable, Release: 3, Weight: 90},
			{Name: gateway.TrackCanary, Release: 4, Weight: 10},
		}}
	got := roundTrip[gwv1.HTTPRoute](t, httpRoute(env, r, map[string]int{"api": 9090}))
	if got.Name != "shop-1" || got.Namespace != "shop" || got.Labels[LabelEnv] != "prod" || got.Labels[LabelRole] != RoleRoute ||
		got.Annotations[AnnotationRoute] != "shop/1" {
		t.Errorf("meta %+v", got.ObjectMeta)
	}
	if p := got.Spec.ParentRefs; len(p) != 1 || p[0].Name != "edge" || p[0].Namespace == nil || *p[0].Namespace != "infra" {
		t.Errorf("parents %+v", p)
	}
	if !slices.Equal(got.Spec.Hostnames, []gwv1.Hostname{"shop.example.com"}) {
		t.Errorf("hostnames %v", got.Spec.Hostnames)
	}
	if len(got.Spec.Rules) != 1 {
		t.Fatalf("rules %+v", got.Spec.Rules)
	}
	rule := got.Spec.Rules[0]
	type backend struct {
		name   string
		port   int32
		weight int32
	}
	var backends []backend
	for _, b := range rule.BackendRefs {
		backends = append(backends, backend{string(b.Name), int32(*b.Port), *b.Weight})
	}
	if want := []backend{{"shop-api-r3", 9090, 90}, {"shop-api-r4", 9090, 10}}; !reflect.DeepEqual(backends, want) {
		t.Errorf("backends %+v, want %+v", backends, want)
	}
	if len(rule.Matches) != 2 {
		t.Fatalf("matches %+v", rule.Matches)
	}
	for i, m := range rule.Matches {
		if *m.Path.Type != gwv1.PathMatchPathPrefix || *m.Path.Value != "/api" || len(m.Headers) != 1 || m.Headers[0].Name != "X-A" ||
			string(*m.Method) != []string{"GET", "POST"}[i] {
			t.Errorf("match %d: %+v", i, m)
		}
	}

	// Exact path, any host, one track, parent in the environment's namespace.
	env.GatewayParent = "edge"
	r = gateway.Route{ID: "shop/0", App: "shop", Service: "web", Host: "*", Path: "/login", PathType: "exact",
		Tracks: []gateway.Track{{Name: gateway.TrackStable, Release: 3, Weight: 100}}}
	got = roundTrip[gwv1.HTTPRoute](t, httpRoute(env, r, map[string]int{"web": 8080}))
	if len(got.Spec.Hostnames) != 0 || got.Spec.ParentRefs[0].Namespace != nil || *got.Spec.Rules[0].Matches[0].Path.Type != gwv1.PathMatchExact ||
		len(got.Spec.Rules[0].BackendRefs) != 1 || *got.Spec.Rules[0].BackendRefs[0].Weight != 100 {
		t.Errorf("route %+v", got.Spec)
	}
}
