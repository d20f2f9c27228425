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
// the embedded gateway at 10,000 routes, laid out as one app with 10,000
// routes and as 1,000 apps with 10 each, the old way beside the new in
// one run:
//
//	go test ./internal/routefeed -run '^$' -bench Compile10k -benchmem
//
// "compile" is Compile, the whole snapshot from SQLite (what every change
// cost before the Feed, and what a Feed's first update costs);
// "incremental" a Feed's update after one app's status changed (the write
// itself is not timed); "snapshot" the same, then the whole snapshot
// assembled from the parts (what GET /api/v1/gateway/snapshot costs after
// a change); "reload" Gateway.Load of the whole snapshot; "delta"
// Gateway.LoadDelta of the one app's routes.
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
			// One app's status changes, as the reconciler writes it.
			feed := NewFeed(db)
			first, err := feed.Since(ctx, "", -1)
			if err != nil {
				b.Fatal(err)
			}
			rev := first.Snapshot.Revision
			for _, sub := range []struct {
				name  string
				after func() error // what the change costs, timed
			}{
				{"incremental", func() error {
					u, err := feed.Since(ctx, "", rev)
					if err == nil && (u.Full || len(u.Delta.Apps) != 1) {
						err = fmt.Errorf("update %+v, want a delta of one app", u.Delta)
					}
					rev = u.Delta.Revision
					return err
				}},
				{"snapshot", func() error {
					snap, err := feed.Snapshot(ctx, "")
					if err == nil && len(snap.Routes) != tc.apps*tc.routes {
						err = fmt.Errorf("%d routes", len(snap.Routes))
					}
					return err
				}},
			} {
				b.Run(sub.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						touchApp(b, db, "app0000")
						b.StartTimer()
						if err := sub.after(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
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
			// The same change as a delta: the one app's routes.
			var one []gateway.Route
			for _, r := range snap.Routes {
				if r.App == "app0000" {
					one = append(one, r)
				}
			}
			b.Run("delta", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					snap.Revision++
					if err := gw.LoadDelta(gateway.Delta{Revision: snap.Revision, Apps: map[string][]gateway.Route{"app0000": one}}); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// touchApp moves one instance of app to another port, with its event, as
// the reconciler's status writes do.
func touchApp(b *testing.B, db store.Store, app string) {
	b.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, app)
		if err != nil {
			return err
		}
		in := &a.Status.Services[0].Instances[0]
		in.Port = 20000 + (in.Port-20000+1)%10000
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: app, Time: time.Now().UTC()})
		return err
	})
	if err != nil {
		b.Fatal(err)
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
