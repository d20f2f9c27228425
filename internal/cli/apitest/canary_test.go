package apitest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// whenCanary plays the reconciler's status for a canary: once the app's
// canary record satisfies ok, it writes the status that goes with it
// (the canary ready at the record's weight with an instance, and no
// canary instance once the record is gone).
func (e *env) whenCanary(ctx context.Context, ok func(c *store.Canary) bool) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for {
				a, err := e.db.GetApp(ctx, "shop")
				if err != nil {
					return err
				}
				if ok(a.Canary) {
					a.Status.Canary = nil
					insts := []api.Instance{{ID: "web-r1-0", Release: 1, Ready: true}}
					if c := a.Canary; c != nil {
						a.Status.Release = c.Release
						a.Status.Canary = &api.CanaryStatus{Release: c.Release, Stable: 1, Weight: c.Weight, Ready: true, Manual: c.Manual}
						insts = append(insts, api.Instance{ID: "web-r2-0", Release: c.Release, Ready: true})
					}
					a.Status.Services = []api.ServiceStatus{{Name: "web", Desired: 1, Ready: 1, Release: 1, Instances: insts}}
					_, err = e.db.UpdateApp(ctx, a)
					return err
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		}()
	}()
	return done
}

func TestCLICanary(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	app := t.TempDir()
	writeFiles(t, app, map[string]string{"berth.yaml": shopSpec, "web/main.go": "package main\n"})
	e.must(0, []string{"login", e.url, "--token", e.token})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deployed := e.deployWhenCreated(ctx, 1)
	e.must(0, []string{"apply", "-f", app, "--timeout", "20s"}, "release 1 deployed")
	if err := <-deployed; err != nil {
		t.Fatal(err)
	}
	e.must(1, []string{"rollout", "shop", "--canary", "10"}, "release 1 of app \"shop\" is already serving: there is nothing to canary", `see "berth status shop"`)
	e.must(1, []string{"promote", "shop"}, "no canary is running")
	e.must(1, []string{"rollout", "nosuch", "--canary", "10"}, `app "nosuch" not found`)

	writeFiles(t, app, map[string]string{"berth.yaml": strings.Replace(shopSpec, "hello", "bonjour", 1)})
	e.must(0, []string{"apply", "-f", app, "--wait=false"}, "release 2 created")
	e.must(0, []string{"rollout", "shop", "--canary", "10", "--wait=false"}, "app shop: canary release 2 at 10 % beside release 1")
	e.must(1, []string{"rollout", "shop", "--canary", "20"}, "already runs at 10 %")

	ready := e.whenCanary(ctx, func(c *store.Canary) bool { return c != nil && c.Weight == 50 })
	e.must(0, []string{"rollout", "shop", "--weight", "50", "--timeout", "20s"},
		"app shop: canary release 2 moved to 50 %", "canary: release 2 at 50 % beside release 1, ready", "app shop: canary release 2 ready at 50 %")
	if err := <-ready; err != nil {
		t.Fatal(err)
	}
	e.must(0, []string{"status", "shop"}, "Canary: release 2 at 50 % beside release 1, moved by hand")

	e.must(0, []string{"promote", "shop", "--wait=false"}, "app shop: promoting canary release 2")
	gone := e.whenCanary(ctx, func(c *store.Canary) bool { return c == nil })
	e.must(0, []string{"abort", "shop", "--timeout", "20s"},
		"app shop: canary release 2 aborted; release 1 takes all the traffic", "app shop: canary release 2 stopped")
	if err := <-gone; err != nil {
		t.Fatal(err)
	}
	e.must(0, []string{"releases", "shop"}, "2 failed apply", "Aborted: canary aborted at 50 %")
	e.must(1, []string{"abort", "shop"}, "failed (Aborted); apply a new release first")
}
