package gatewayd

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
)

func TestChangedApps(t *testing.T) {
	t.Parallel()
	route := func(app, addr string) gateway.Route {
		return gateway.Route{ID: app + "/0", App: app, Host: app + ".localhost",
			Tracks: []gateway.Track{{Name: gateway.TrackStable, Weight: 100, Endpoints: []gateway.Endpoint{{Addr: addr}}}}}
	}
	old := routesByApp([]gateway.Route{route("a", "127.0.0.1:1"), route("b", "127.0.0.1:2"), route("c", "127.0.0.1:3")})
	cur := routesByApp([]gateway.Route{route("a", "127.0.0.1:1"), route("b", "127.0.0.1:9"), route("d", "127.0.0.1:4")})
	got := changedApps(old, cur)
	if want := []string{"b", "c", "d"}; !slices.Equal(slices.Sorted(maps.Keys(got)), want) {
		t.Fatalf("changed apps %v, want %v", slices.Sorted(maps.Keys(got)), want)
	}
	if got["c"] != nil || !reflect.DeepEqual(got["b"], cur["b"]) || !reflect.DeepEqual(got["d"], cur["d"]) {
		t.Fatalf("delta %+v", got)
	}
}

// TestLoadOnlyChangedApps follows whole snapshots into a real gateway as
// deltas: it serves each snapshot's routes, and no other.
func TestLoadOnlyChangedApps(t *testing.T) {
	t.Parallel()
	gw := gateway.New(gateway.Options{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
	t.Cleanup(func() { _ = gw.Close() })
	front := httptest.NewServer(gw)
	t.Cleanup(front.Close)
	backend := func(name string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	one, two := backend("one"), backend("two")
	route := func(app, addr string) gateway.Route {
		return gateway.Route{ID: app + "/0", App: app, Host: app + ".localhost",
			Tracks: []gateway.Track{{Name: gateway.TrackStable, Weight: 100, Endpoints: []gateway.Endpoint{{Addr: addr}}}}}
	}
	f := &follower{gw: gw}
	get := func(app string) string {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = app + ".localhost"
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return fmt.Sprint(res.StatusCode, " ", string(b))
	}
	steps := []struct {
		routes []gateway.Route
		want   map[string]string
	}{
		{[]gateway.Route{route("a", one), route("b", one)}, map[string]string{"a": "200 one", "b": "200 one"}},
		{[]gateway.Route{route("a", one), route("b", two)}, map[string]string{"a": "200 one", "b": "200 two"}},
		{[]gateway.Route{route("b", two), route("c", one)}, map[string]string{"a": "404 ", "b": "200 two", "c": "200 one"}},
	}
	for i, s := range steps {
		if err := f.load(gateway.Snapshot{Revision: int64(i + 1), Routes: s.routes}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for app, want := range s.want {
			if got := get(app); !strings.HasPrefix(got, want) {
				t.Fatalf("step %d: %s answered %q, want %q", i, app, got, want)
			}
		}
		if gw.Revision() != int64(i+1) {
			t.Fatalf("step %d: revision %d", i, gw.Revision())
		}
	}
}
