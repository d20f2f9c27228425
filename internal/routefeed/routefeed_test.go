package routefeed

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
	"github.com/prometheus/client_golang/prometheus"
)

func TestReadyEndpoints(t *testing.T) {
	t.Parallel()
	inst := func(id string, rel, port int, ready bool) api.Instance {
		return api.Instance{ID: id, Release: rel, Port: port, Ready: ready}
	}
	tests := []struct {
		desc string
		st   api.AppStatus
		want []string
	}{
		{desc: "ready instances of the serving release", st: api.AppStatus{Serving: 1, Release: 1, Services: []api.ServiceStatus{
			{Name: "web", Instances: []api.Instance{inst("b", 1, 9002, true), inst("a", 1, 9001, true), inst("c", 1, 9003, false)}},
			{Name: "api", Instances: []api.Instance{inst("d", 1, 9004, true)}},
		}}, want: []string{"127.0.0.1:9001", "127.0.0.1:9002"}},
		{desc: "rolling update mixes in the new release", st: api.AppStatus{Serving: 1, Release: 2, Phase: api.PhaseProgressing, Services: []api.ServiceStatus{
			{Name: "web", Instances: []api.Instance{inst("old", 1, 9001, true), inst("new", 2, 9002, true)}},
		}}, want: []string{"127.0.0.1:9001", "127.0.0.1:9002"}},
		{desc: "a failed release takes no traffic", st: api.AppStatus{Serving: 1, Release: 2, Phase: api.PhaseFailed, Services: []api.ServiceStatus{
			{Name: "web", Instances: []api.Instance{inst("old", 1, 9001, true), inst("new", 2, 9002, true)}},
		}}, want: []string{"127.0.0.1:9001"}},
		{desc: "draining older releases left out", st: api.AppStatus{Serving: 3, Release: 3, Services: []api.ServiceStatus{
			{Name: "web", Instances: []api.Instance{inst("older", 2, 9001, true), inst("cur", 3, 9002, true)}},
		}}, want: []string{"127.0.0.1:9002"}},
		{desc: "no port yet", st: api.AppStatus{Serving: 1, Release: 1, Services: []api.ServiceStatus{
			{Name: "web", Instances: []api.Instance{inst("a", 1, 0, true)}},
		}}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, e := range readyEndpoints(tt.st, "web") {
				got = append(got, e.Addr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestRouteFeed compiles a snapshot from a real store and serves it
// through a real gateway to a real instance.
func TestRouteFeed(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	instance := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "shop web "+r.Host)
	}))
	t.Cleanup(instance.Close)
	host, port := splitAddr(t, instance.Listener.Addr().String())

	now := time.Now().UTC()
	specJSON, _ := json.Marshal(spec.App{Name: "shop", Routes: []spec.Route{{Host: "shop.localhost", Path: "/", Service: "web"}}})
	if err := db.CreateApp(ctx, store.App{Name: "shop", LatestRelease: 1, TargetRelease: 1, CreatedAt: now, UpdatedAt: now,
		Status: api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
			Name: "web", Instances: []api.Instance{{ID: "web-1", Release: 1, Ready: true, Host: host, Port: port}},
		}}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRelease(ctx, store.Release{App: "shop", Number: 1, Spec: specJSON, State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	rev, err := db.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: "shop", Time: now})
	if err != nil {
		t.Fatal(err)
	}
	gw := gateway.New(gateway.Options{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
	t.Cleanup(func() { _ = gw.Close() })
	snap, err := Compile(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	want := []gateway.Route{{ID: "shop/0", App: "shop", Service: "web", Host: "shop.localhost", Path: "/",
		Tracks: []gateway.Track{{Name: gateway.TrackStable, Release: 1, Weight: 100,
			Endpoints: []gateway.Endpoint{{Addr: instance.Listener.Addr().String(), Instance: "web-1", Release: 1}}}}}}
	if snap.Revision != rev || rev == 0 || !reflect.DeepEqual(snap.Routes, want) {
		t.Fatalf("snapshot %+v", snap)
	}
	if err := gw.Load(snap); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(gw)
	t.Cleanup(front.Close)
	req, _ := http.NewRequest("GET", front.URL+"/", nil)
	req.Host = "shop.localhost"
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(b) != "shop web shop.localhost" {
		t.Fatalf("%d %q", res.StatusCode, b)
	}
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil {
		t.Fatal(err)
	}
	return addr[:i], port
}
