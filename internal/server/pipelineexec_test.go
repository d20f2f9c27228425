package server

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/sqlite"
)

// mapCreds hands out kubeconfigs by cluster name (the secret store's
// part; nothing here dials the clusters).
type mapCreds struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (c *mapCreds) ClusterCredentials(_ context.Context, name string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[name], nil
}

func kubeconfigFor(server string) []byte {
	return []byte(strings.ReplaceAll(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "SERVER"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`, "SERVER", server))
}

// TestClusterExecutorsCache: one executor per environment, kept while
// nothing it was built from changes, built again when the environment is
// made anew (another namespace) or its cluster's credentials change, and
// dropped once the environment is gone.
func TestClusterExecutorsCache(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "berth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	creds := &mapCreds{m: map[string][]byte{"eu": kubeconfigFor("https://127.0.0.1:1")}}
	if err := db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://127.0.0.1:1", CreatedAt: time.Now()}, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	mkEnv := func(name, ns string) store.Environment {
		t.Helper()
		e := store.Environment{Name: name, Team: "team_a", Cluster: "eu", Namespace: ns, CreatedAt: time.Now()}
		if err := db.CreateEnvironment(ctx, e); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetEnvironment(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	cx := newClusterExecutors(db, clusterAccess{creds: creds}, kube.Options{DefaultImage: "busybox:1"}, slog.New(slog.DiscardHandler))
	if cx.DefaultImage() != "busybox:1" {
		t.Errorf("default image %q", cx.DefaultImage())
	}
	open := func(e store.Environment) *kube.Executor {
		t.Helper()
		x, err := cx.ForEnvironment(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		return x.(*kube.Executor)
	}

	ci := mkEnv("ci", "ci")
	first := open(ci)
	if again := open(ci); again != first {
		t.Error("an unchanged environment got a new executor")
	}
	otherEnv := mkEnv("other", "other")
	other := open(otherEnv)
	if other == first {
		t.Error("two environments share an executor")
	}

	creds.mu.Lock()
	creds.m["eu"] = kubeconfigFor("https://127.0.0.1:2")
	creds.mu.Unlock()
	rotated := open(ci)
	if rotated == first {
		t.Error("new cluster credentials kept the old executor")
	}
	other = open(otherEnv) // also built anew: same cluster

	if err := db.DeleteEnvironment(ctx, "ci"); err != nil {
		t.Fatal(err)
	}
	_ = open(otherEnv) // a look-up drops the executors of environments gone
	if cx.cached("ci") != nil {
		t.Error("the executor of a deleted environment is kept")
	}
	if cx.cached("other") != other {
		t.Error("an unchanged environment lost its executor")
	}
	if anew := open(mkEnv("ci", "ci-2")); anew == rotated {
		t.Error("an environment made anew kept the old executor")
	}
}
