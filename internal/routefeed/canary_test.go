package routefeed

import (
	"context"
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

// TestRouteFeedCanary compiles a canary into two tracks with the route's
// policies, serves it through a real gateway to real instances, and drops
// the canary track as soon as its release is aborted.
func TestRouteFeedCanary(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	backend := func(name string) api.Instance {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, name) }))
		t.Cleanup(srv.Close)
		host, port := splitAddr(t, srv.Listener.Addr().String())
		rel := 1
		if strings.HasPrefix(name, "r2") {
			rel = 2
		}
		return api.Instance{ID: name, Release: rel, Ready: true, Host: host, Port: port}
	}
	r1a, r1b, r2 := backend("r1a"), backend("r1b"), backend("r2")
	pause := spec.Duration(time.Minute)
	sp := spec.App{Name: "shop", Routes: []spec.Route{{
		Host: "shop.localhost", Path: "/", Service: "web", Sticky: true,
		Methods: []string{"GET"}, Headers: map[string]string{"X-B": "2", "X-A": "1"},
		Timeout: spec.Duration(30 * time.Second), LB: spec.LBLeastRequest, MaxBody: "1Mi",
		Retries:        &spec.Retries{Attempts: 3, PerTryTimeout: spec.Duration(time.Second), SafeMethods: []string{"POST"}},
		CircuitBreaker: &spec.CircuitBreaker{ConsecutiveFailures: 5, Window: spec.Duration(10 * time.Second), MinRequests: 20, OpenFor: spec.Duration(5 * time.Second)},
		RateLimit:      &spec.RateLimit{Rate: 1000, Burst: 1000, Key: "ip"},
	}}, Strategy: spec.Strategy{Type: spec.StrategyCanary, Steps: []spec.CanaryStep{{Weight: 25, Pause: &pause}}}}
	specJSON, _ := json.Marshal(sp)
	now := time.Now().UTC()
	if err := db.CreateApp(ctx, store.App{Name: "shop", LatestRelease: 2, TargetRelease: 2, CreatedAt: now, UpdatedAt: now,
		Canary: &store.Canary{Release: 2, Weight: 25, StepStartedAt: now},
		Status: api.AppStatus{Release: 2, Serving: 1, Phase: api.PhaseProgressing, Services: []api.ServiceStatus{{
			Name: "web", Instances: []api.Instance{r1a, r1b, r2},
		}}}}); err != nil {
		t.Fatal(err)
	}
	for n, state := range map[int]string{1: api.ReleaseDeployed, 2: api.ReleaseProgressing} {
		if err := db.CreateRelease(ctx, store.Release{App: "shop", Number: n, Spec: specJSON, State: state, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	gw := gateway.New(gateway.Options{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
	t.Cleanup(func() { _ = gw.Close() })
	snap, err := Compile(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ep := func(in api.Instance) gateway.Endpoint {
		return gateway.Endpoint{Addr: in.Host + ":" + strconv.Itoa(in.Port), Instance: in.ID, Release: in.Release}
	}
	stable := []gateway.Endpoint{ep(r1a), ep(r1b)}
	if stable[0].Addr > stable[1].Addr {
		stable[0], stable[1] = stable[1], stable[0]
	}
	want := gateway.Route{ID: "shop/0", App: "shop", Service: "web", Host: "shop.localhost", Path: "/",
		Methods: []string{"GET"}, Headers: []gateway.HeaderMatch{{Name: "X-A", Value: "1"}, {Name: "X-B", Value: "2"}},
		Sticky: true,
		Tracks: []gateway.Track{
			{Name: gateway.TrackStable, Release: 1, Weight: 75, Endpoints: stable},
			{Name: gateway.TrackCanary, Release: 2, Weight: 25, Endpoints: []gateway.Endpoint{ep(r2)}},
		},
		Policy: gateway.Policy{
			Timeout: 30 * time.Second, MaxBodyBytes: 1 << 20, LB: gateway.LBLeastRequest,
			Retry:     &gateway.RetryPolicy{Attempts: 3, PerTryTimeout: time.Second, SafeMethods: []string{"POST"}},
			Breaker:   &gateway.BreakerPolicy{ConsecutiveFailures: 5, Window: 10 * time.Second, MinRequests: 20, OpenFor: 5 * time.Second},
			RateLimit: &gateway.RateLimitPolicy{Rate: 1000, Burst: 1000, Key: "ip"},
		}}
	if len(snap.Routes) != 1 || !reflect.DeepEqual(snap.Routes[0], want) {
		t.Fatalf("route\n got %+v\nwant %+v", snap.Routes, want)
	}
	if err := gw.Load(snap); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(gw)
	t.Cleanup(front.Close)
	get := func(track string) string {
		req, _ := http.NewRequest("GET", front.URL+"/", nil)
		req.Host = "shop.localhost"
		req.Header.Set("X-A", "1")
		req.Header.Set("X-B", "2")
		if track != "" {
			req.Header.Set(gateway.TrackHeader, track)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	canary := 0
	for range 400 {
		if get("") == "r2" {
			canary++
		}
	}
	if canary != 100 {
		t.Errorf("canary answered %d of 400, want 100 (25 %%)", canary)
	}
	for range 10 {
		if got := get(gateway.TrackCanary); got != "r2" {
			t.Fatalf("pinned to canary, answered by %s", got)
		}
	}

	// Aborted: release 2 failed, before the reconciler cleared the canary
	// or wrote the status. Only release 1 takes traffic.
	rel, err := db.GetRelease(ctx, "shop", 2)
	if err != nil {
		t.Fatal(err)
	}
	rel.State, rel.Reason = api.ReleaseFailed, api.ReasonAborted
	if _, err := db.UpdateRelease(ctx, rel); err != nil {
		t.Fatal(err)
	}
	snap, err = Compile(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	tracks := snap.Routes[0].Tracks
	if len(tracks) != 1 || tracks[0].Weight != 100 || !reflect.DeepEqual(tracks[0].Endpoints, stable) {
		t.Fatalf("tracks after abort %+v", tracks)
	}
}

// TestRouteFeedCanaryRecordIgnored: a target release without a (valid) canary
// record still shares the stable track during a rolling update.
func TestRouteFeedCanaryRecordIgnored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	specJSON, _ := json.Marshal(spec.App{Name: "shop", Routes: []spec.Route{{Host: "shop.localhost", Path: "/", Service: "web"}}})
	now := time.Now().UTC()
	insts := []api.Instance{{ID: "a", Release: 1, Ready: true, Port: 9001}, {ID: "b", Release: 2, Ready: true, Port: 9002}}
	tests := []struct {
		desc   string
		canary *store.Canary
		want   []string
	}{
		{desc: "rolling update: both releases share the stable track", want: []string{"127.0.0.1:9001", "127.0.0.1:9002"}},
		{desc: "a canary of another release is stale", canary: &store.Canary{Release: 1, Weight: 50}, want: []string{"127.0.0.1:9001", "127.0.0.1:9002"}},
	}
	for i, tt := range tests {
		name := "shop" + strconv.Itoa(i)
		if err := db.CreateApp(ctx, store.App{Name: name, LatestRelease: 2, TargetRelease: 2, Canary: tt.canary, CreatedAt: now, UpdatedAt: now,
			Status: api.AppStatus{Release: 2, Serving: 1, Phase: api.PhaseProgressing, Services: []api.ServiceStatus{{Name: "web", Instances: insts}}}}); err != nil {
			t.Fatal(err)
		}
		for n, state := range map[int]string{1: api.ReleaseDeployed, 2: api.ReleaseProgressing} {
			if err := db.CreateRelease(ctx, store.Release{App: name, Number: n, Spec: specJSON, State: state, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
	}
	snap, err := Compile(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		r := snap.Routes[i]
		var got []string
		for _, e := range r.Tracks[0].Endpoints {
			got = append(got, e.Addr)
		}
		if len(r.Tracks) != 1 || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: tracks %+v", tt.desc, r.Tracks)
		}
	}
}
