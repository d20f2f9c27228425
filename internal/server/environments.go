package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"k8s.io/client-go/rest"

	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/runtime"
	"github.com/berthdev/berth/internal/runtime/envroute"
	"github.com/berthdev/berth/internal/runtime/kube"
	"github.com/berthdev/berth/internal/store"
)

// appEnv resolves an app's environment from the store.
func appEnv(st store.Store) envroute.Resolver {
	return func(ctx context.Context, app string) (string, error) {
		a, err := st.GetApp(ctx, app)
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("app %s: %w", app, runtime.ErrNotFound)
		}
		if err != nil {
			return "", err
		}
		return a.Env, nil
	}
}

// openEnv connects a Kubernetes runtime to an environment's cluster and
// namespace, with the cluster's stored credentials (or the in-cluster
// service account), opened by creds: this code never handles keys.
func openEnv(st store.Store, creds clusterAccess, logger *slog.Logger) envroute.Opener {
	return func(ctx context.Context, name string) (runtime.Runtime, error) {
		env, err := st.GetEnvironment(ctx, name)
		if err != nil {
			return nil, err
		}
		c, err := st.GetCluster(ctx, env.Cluster)
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", env.Cluster, err)
		}
		cfg, err := creds.config(ctx, c)
		if err != nil {
			return nil, err
		}
		rt, err := kube.New(ctx, kube.Options{
			Config: cfg, Cluster: c.Name, Namespace: env.Namespace, StorageClass: env.StorageClass,
			Logger: logger.With("env", name),
		})
		if err != nil {
			return nil, err
		}
		logger.Info("environment runtime started", "env", name, "cluster", c.Name, "namespace", env.Namespace)
		return rt, nil
	}
}

// clusterCredentials opens a cluster's stored kubeconfig
// (internal/secretstore.Store).
type clusterCredentials interface {
	ClusterCredentials(ctx context.Context, name string) ([]byte, error)
}

// clusterAccess reaches stored clusters: with their sealed kubeconfigs,
// or the service account of the pod the server runs in.
type clusterAccess struct {
	creds     clusterCredentials
	inCluster kubecluster.InClusterSource
}

func (a clusterAccess) config(ctx context.Context, c store.Cluster) (*rest.Config, error) {
	if c.InCluster {
		cfg, err := a.inCluster.Config()
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		return cfg, nil
	}
	kubeconfig, err := a.creds.ClusterCredentials(ctx, c.Name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: read credentials: %w", c.Name, err)
	}
	return kubecluster.Config(kubeconfig, "")
}
