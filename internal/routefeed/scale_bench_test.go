package routefeed

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/berthdev/berth/internal/gateway"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
	"github.com/berthdev/berth/pkg/api"
)

// BenchmarkCompile10kRoutes measures what every change to the store costs
// the embedded gateway: Compile (the whole snapshot, from SQLite) and
// Gateway.Load (validate, compile, swap) at 10,000 routes, laid out as one
// app with 10,000 routes and as 1,000 apps with 10 each.
//
//	go test ./internal/routefeed -run '^$' -bench Compile10k -benchmem
func BenchmarkCompile10kRoutes(b *testing.B) {
	for _, tc := range []struct {
		desc         string
		apps, routes int
	}{
		{desc: "1 app x 10000 routes", apps: 1, routes: 10000},
		{desc: "1000 apps x 10 routes", apps: 1000, routes: 10},
	} {
		b.Run(tc.desc, func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			seedApps(b, db, tc.apps, tc.routes)
			gw := gateway.New(gateway.Options{Logger: slog.New(slog.DiscardHandler), Metrics: prometheus.NewRegistry()})
			b.Cleanup(func() { _ = gw.Close() })
			b.Run("compile", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					snap, err := Compile(ctx, db)
					if err != nil {
						b.Fatal(err)
					}
					if len(snap.Routes) != tc.apps*tc.routes {
						b.Fatalf("%d routes", len(snap.Routes))
					}
				}
			})
			snap, err := Compile(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			if err := gw.Load(snap); err != nil {
				b.Fatal(err)
			}
			// A reload of the same routes: what every change to the store
			// costs (the first load also creates every metric series).
			b.Run("reload", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					snap.Revision++
					if err := gw.Load(snap); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func seedApps(b *testing.B, db store.Store, apps, routes int) {
	b.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	for a := range apps {
		name := fmt.Sprintf("app%04d", a)
		s := spec.App{Name: name}
		for r := range routes {
			s.Routes = append(s.Routes, spec.Route{Host: fmt.Sprintf("h%05d.%s.localhost", r, name), Path: "/", Service: "web"})
		}
		specJSON, err := json.Marshal(s)
		if err != nil {
			b.Fatal(err)
		}
		if err := db.CreateApp(ctx, store.App{Name: name, LatestRelease: 1, TargetRelease: 1, CreatedAt: now, UpdatedAt: now,
			Status: api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{
				Name: "web", Instances: []api.Instance{{ID: name + "-web-1", Release: 1, Ready: true, Host: "127.0.0.1", Port: 20000 + a%10000}},
			}}}}); err != nil {
			b.Fatal(err)
		}
		if err := db.CreateRelease(ctx, store.Release{App: name, Number: 1, Spec: specJSON, State: api.ReleaseDeployed, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
	}
}
