package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/berthdev/berth/internal/pipeline/executor/kube"
	"github.com/berthdev/berth/internal/pipeline/runner"
	"github.com/berthdev/berth/internal/store"
)

// clusterExecutors gives pipeline runs whose pipeline names an
// environment (executor.env) the kube executor of that environment's
// cluster and namespace. It keeps one per environment, and builds a new
// one when what it was built from changed: the environment (deleted and
// made again, another namespace or storage class) or its cluster (another
// server, context, or credentials). Entries of environments that are gone
// are dropped on the next look-up.
type clusterExecutors struct {
	st     store.Store
	access clusterAccess
	opts   kube.Options // Client, Namespace and StorageClass are set per environment
	log    *slog.Logger

	mu   sync.Mutex
	open map[string]openExecutor // by environment name
}

type openExecutor struct {
	// key identifies what the executor was built from.
	key string
	ex  *kube.Executor
}

func newClusterExecutors(st store.Store, access clusterAccess, opts kube.Options, log *slog.Logger) *clusterExecutors {
	return &clusterExecutors{st: st, access: access, opts: opts, log: log, open: map[string]openExecutor{}}
}

func (c *clusterExecutors) DefaultImage() string { return c.opts.DefaultImage }

// ForEnvironment returns the executor of e (checked by the runner: it
// exists, is the run's team's and is on a cluster).
func (c *clusterExecutors) ForEnvironment(ctx context.Context, e store.Environment) (runner.ClusterExecutor, error) {
	c.forgetGone(ctx)
	cl, err := c.st.GetCluster(ctx, e.Cluster)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", e.Cluster, err)
	}
	var creds []byte
	if !cl.InCluster {
		if creds, err = c.access.creds.ClusterCredentials(ctx, cl.Name); err != nil {
			return nil, fmt.Errorf("cluster %s: read credentials: %w", cl.Name, err)
		}
	}
	key := executorKey(e, cl, creds)
	c.mu.Lock()
	o, ok := c.open[e.Name]
	c.mu.Unlock()
	if ok && o.key == key {
		return o.ex, nil
	}
	cfg, err := c.access.config(ctx, cl)
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "berth-pipelines"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
	}
	opts := c.opts
	opts.Client, opts.Namespace, opts.StorageClass = client, e.Namespace, e.StorageClass
	opts.Logger = c.log.With("env", e.Name)
	ex, err := kube.New(opts)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open[e.Name] = openExecutor{key: key, ex: ex}
	c.mu.Unlock()
	c.log.InfoContext(ctx, "pipeline executor opened", "env", e.Name, "cluster", cl.Name, "namespace", e.Namespace, "rebuilt", ok)
	return ex, nil
}

// executorKey changes whenever the environment or cluster an executor was
// built from did: a name reused for a new one has a new creation time, and
// new credentials a new digest (the digest alone is kept, not the bytes).
func executorKey(e store.Environment, cl store.Cluster, creds []byte) string {
	sum := sha256.Sum256(creds)
	return fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s|%t|%s|%s",
		e.Cluster, e.Namespace, e.StorageClass, e.CreatedAt.UTC().Format(time.RFC3339Nano),
		cl.Server, cl.Context, cl.Name, cl.InCluster, cl.CreatedAt.UTC().Format(time.RFC3339Nano), hex.EncodeToString(sum[:]))
}

// forgetGone drops the executors of environments that no longer exist.
func (c *clusterExecutors) forgetGone(ctx context.Context) {
	envs, err := c.st.ListEnvironments(ctx)
	if err != nil {
		return // kept until a later look-up can tell
	}
	exist := make(map[string]bool, len(envs))
	for _, e := range envs {
		exist[e.Name] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name := range c.open {
		if !exist[name] {
			delete(c.open, name)
		}
	}
}

// cached is the executor kept for environment name, for tests.
func (c *clusterExecutors) cached(name string) *kube.Executor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.open[name].ex
}
