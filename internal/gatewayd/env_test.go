package gatewayd

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/identity/token"
	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// TestEnvGateway runs the gateway as Berth runs it in an environment's
// cluster (--env, with the environment's gateway token), fed by a real
// control plane whose instances are loopback servers standing in for
// pods: kwok runs no pods, so this is where requests really flow through
// a gateway in cluster mode. It serves only its environment's apps, splits
// a canary exactly by weight, and follows a weight change over the watch
// stream its token may read.
func TestEnvGateway(t *testing.T) {
	t.Parallel()
	cp := envControlPlane(t, store.Environment{Name: "staging", Namespace: "shop"})
	ctx := context.Background()
	now := time.Now().UTC()
	tok := gatewayToken(t, cp, "staging", "team-a")
	pod := func(name string, rel int) api.Instance { return podServer(t, name, rel) }
	shop := spec.App{Name: "shop", Routes: []spec.Route{{Host: "shop.example", Path: "/", Service: "web"}}}
	blog := spec.App{Name: "blog", Routes: []spec.Route{{Host: "blog.example", Path: "/", Service: "web"}}}
	err := cp.db.InTx(ctx, func(tx store.Tx) error {
		for _, a := range []struct {
			sp     spec.App
			env    string
			canary *store.Canary
			rels   map[int]string
			status api.AppStatus
		}{
			{shop, "staging", &store.Canary{Release: 2, Weight: 20, StepStartedAt: now}, map[int]string{1: api.ReleaseDeployed, 2: api.ReleaseProgressing},
				api.AppStatus{Release: 2, Serving: 1, Phase: api.PhaseProgressing, Services: []api.ServiceStatus{{Name: "web",
					Instances: []api.Instance{pod("stable-a", 1), pod("stable-b", 1), pod("canary", 2)}}}}},
			{blog, "", nil, map[int]string{1: api.ReleaseDeployed},
				api.AppStatus{Release: 1, Serving: 1, Phase: api.PhaseRunning, Services: []api.ServiceStatus{{Name: "web",
					Instances: []api.Instance{pod("blog", 1)}}}}},
		} {
			if err := tx.CreateApp(ctx, store.App{Name: a.sp.Name, Env: a.env, LatestRelease: len(a.rels), TargetRelease: len(a.rels),
				Canary: a.canary, Status: a.status, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			b, _ := json.Marshal(a.sp)
			for n, state := range a.rels {
				if err := tx.CreateRelease(ctx, store.Release{App: a.sp.Name, Number: n, Spec: b, State: state, CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
			}
			if _, err := tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: a.sp.Name, Release: 1, Time: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	cp.token = tok
	gw := startGateway(t, cp, "", func(c *Config) { c.Env = "staging" })
	count := func() map[string]int {
		got := map[string]int{}
		for range 100 {
			code, body, err := gw.get("/", map[string]string{"Host": "shop.example"})
			if err != nil || code != 200 {
				t.Fatalf("shop: %d %q %v\n%s", code, body, err, gw.log)
			}
			got[body]++
		}
		return got
	}
	eventually(t, 5*time.Second, "the environment's routes are served", func() error {
		if code, body, err := gw.get("/", map[string]string{"Host": "shop.example"}); err != nil || code != 200 {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	})
	if got := count(); got["canary"] != 20 || got["stable-a"]+got["stable-b"] != 80 || got["stable-a"] == 0 || got["stable-b"] == 0 {
		t.Errorf("100 requests at weight 20: %v", got)
	}
	if code, body, _ := gw.get("/", map[string]string{"Host": "blog.example"}); code != http.StatusNotFound {
		t.Errorf("an app of no environment through the environment's gateway: %d %q", code, body)
	}

	// The canary moves to 50: the gateway hears it on its watch stream.
	err = cp.db.InTx(ctx, func(tx store.Tx) error {
		a, err := tx.GetApp(ctx, "shop")
		if err != nil {
			return err
		}
		a.Canary.Weight = 50
		if _, err := tx.UpdateApp(ctx, a); err != nil {
			return err
		}
		_, err = tx.AppendEvent(ctx, store.Event{Kind: api.EventAppStatus, App: "shop", Release: 2, Time: time.Now()})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cp.changes.Poke()
	eventually(t, 5*time.Second, "the weight change is followed", func() error {
		if got := count(); got["canary"] != 50 {
			return fmt.Errorf("%v", got)
		}
		return nil
	})
	if strings.Contains(gw.log.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", gw.log)
	}
}

// envControlPlane is a control plane with a cluster "eu" and the
// environment e of team-a on it.
func envControlPlane(t *testing.T, e store.Environment) *controlPlane {
	t.Helper()
	cp := newControlPlane(t)
	ctx := context.Background()
	now := time.Now().UTC()
	if err := cp.db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: now}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	e.Team, e.Cluster, e.CreatedAt = "team-a", "eu", now
	if err := cp.db.CreateEnvironment(ctx, e); err != nil {
		t.Fatal(err)
	}
	return cp
}

// gatewayToken makes the gateway token of an environment, as the routing
// reconciler does.
func gatewayToken(t *testing.T, cp *controlPlane, env, team string) string {
	t.Helper()
	now := time.Now().UTC()
	tok, st, err := token.New(token.KindGateway, rbac.ScopeRead, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cp.db.CreateToken(context.Background(), store.Token{ID: "tok_gw_" + env, Name: env, Kind: string(st.Kind), Team: team,
		Scope: string(st.Scope), Hash: st.Hash, Last4: st.Last4, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// podServer stands in for a pod: a loopback server answering its name.
func podServer(t *testing.T, name string, rel int) api.Instance {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, name) }))
	t.Cleanup(srv.Close)
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return api.Instance{ID: name, Release: rel, Ready: true, Host: host, Port: p}
}
