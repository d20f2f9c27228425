package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Clusters are the platform's, not a team's: every handler needs
// clusters:manage, which only owners (and admin-scoped tokens) hold.
// Credentials go into the store and never come back out of the API; the
// server reads them only to reach the cluster.

// clusterCheckTimeout bounds one health check, so a list of clusters with
// a dead one still answers.
const clusterCheckTimeout = 10 * time.Second

// clusterAuthorize answers 403 to a caller without clusters:manage:
// clusters belong to no team, so there is no membership to hide.
func (s *server) clusterAuthorize(ctx context.Context) error {
	denied := forbidden("managing clusters needs the %s permission (a platform owner, or an admin-scoped token)", rbac.ClustersManage)
	if err := s.authorize(ctx, "", rbac.ClustersManage, denied); err != nil {
		return err
	}
	return nil
}

func clusterParam(r *http.Request) (string, error) {
	name := r.PathValue("cluster")
	if !appNameRE.MatchString(name) {
		return "", invalidField("cluster", "%q is not a cluster name (lower-case letters, digits and '-', 1 to 63 characters)", name)
	}
	return name, nil
}

func (s *server) addCluster(w http.ResponseWriter, r *http.Request) error {
	var req api.ClusterRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.clusterAuthorize(r.Context()); err != nil {
		return err
	}
	if !appNameRE.MatchString(req.Name) {
		return invalidField("name", "%q is not a cluster name (lower-case letters, digits and '-', 1 to 63 characters)", req.Name)
	}
	c := store.Cluster{Name: req.Name, Context: req.Context, InCluster: req.InCluster, CreatedAt: s.Now().UTC()}
	var (
		creds []byte
		cfg   *rest.Config
		err   error
	)
	switch {
	case req.InCluster && req.Kubeconfig != "":
		return invalidField("kubeconfig", "must be empty with in_cluster: the server's own service account is used")
	case req.InCluster:
		if cfg, err = s.InCluster.Config(); err != nil {
			return invalidField("in_cluster", "cluster %s: this server cannot use its own service account: %v", req.Name, err)
		}
		c.Server = cfg.Host
	case req.Kubeconfig == "":
		return invalidField("kubeconfig", "required: the text of a kubeconfig file (or in_cluster)")
	default:
		if creds, c.Server, err = kubecluster.Minimal([]byte(req.Kubeconfig), req.Context); err != nil {
			return invalidField(kubeconfigField(req), "%v", err)
		}
		if cfg, err = kubecluster.Config(creds, ""); err != nil {
			return invalidField(kubeconfigField(req), "%v", err)
		}
	}
	// A cluster that cannot be reached or refuses the credentials is not
	// stored: the user is at the keyboard now, with the file at hand.
	ctx, cancel := context.WithTimeout(r.Context(), clusterCheckTimeout)
	defer cancel()
	if _, err := kubecluster.Inspect(ctx, cfg, req.Name); err != nil {
		field := "kubeconfig"
		if req.InCluster {
			field = "in_cluster"
		}
		return invalidField(field, "%v", err)
	}
	if creds != nil && s.Clusters == nil {
		return newError(http.StatusServiceUnavailable, api.CodeUnavailable, "this server has no master key loaded, so it cannot store cluster credentials")
	}
	if err := s.createCluster(r.Context(), c, creds); err != nil {
		if errors.Is(err, store.ErrExists) {
			return conflict("cluster %q already exists; remove it first with \"berth cluster remove %s\"", req.Name, req.Name)
		}
		return fmt.Errorf("add cluster %s: %w", req.Name, err)
	}
	s.Logger.Info("cluster added", "cluster", c.Name, "server", c.Server, "in_cluster", c.InCluster)
	writeJSON(w, http.StatusCreated, s.clusterView(r.Context(), c))
	return nil
}

func kubeconfigField(req api.ClusterRequest) string {
	if req.Context != "" {
		return "context"
	}
	return "kubeconfig"
}

func (s *server) listClusters(w http.ResponseWriter, r *http.Request) error {
	if err := s.clusterAuthorize(r.Context()); err != nil {
		return err
	}
	cs, err := s.Store.ListClusters(r.Context())
	if err != nil {
		return fmt.Errorf("list clusters: %w", err)
	}
	out := make([]api.Cluster, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { out[i] = s.clusterView(r.Context(), c) })
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getCluster(w http.ResponseWriter, r *http.Request) error {
	name, err := clusterParam(r)
	if err != nil {
		return err
	}
	if err := s.clusterAuthorize(r.Context()); err != nil {
		return err
	}
	c, err := s.Store.GetCluster(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("cluster %q not found", name)
	}
	if err != nil {
		return fmt.Errorf("get cluster %s: %w", name, err)
	}
	writeJSON(w, http.StatusOK, s.clusterView(r.Context(), c))
	return nil
}

func (s *server) removeCluster(w http.ResponseWriter, r *http.Request) error {
	name, err := clusterParam(r)
	if err != nil {
		return err
	}
	if err := s.clusterAuthorize(r.Context()); err != nil {
		return err
	}
	if envs, err := s.clusterInUse(r.Context(), name); err != nil {
		return fmt.Errorf("remove cluster %s: %w", name, err)
	} else if len(envs) > 0 {
		return conflict("cluster %q is used by environments %s; remove them first with \"berth env remove\"", name, strings.Join(envs, ", "))
	}
	if err := s.Store.DeleteCluster(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		return notFound("cluster %q not found", name)
	} else if err != nil {
		return fmt.Errorf("remove cluster %s: %w", name, err)
	}
	s.Logger.Info("cluster removed", "cluster", name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// clusterView is the cluster with its health checked now.
func (s *server) clusterView(ctx context.Context, c store.Cluster) api.Cluster {
	v := api.Cluster{Name: c.Name, Server: c.Server, Context: c.Context, InCluster: c.InCluster, CreatedAt: c.CreatedAt}
	v.Health = s.clusterHealth(ctx, c)
	return v
}

func (s *server) clusterHealth(ctx context.Context, c store.Cluster) api.ClusterHealth {
	h := api.ClusterHealth{CheckedAt: s.Now().UTC()}
	cfg, err := s.clusterConfig(ctx, c)
	if err != nil {
		h.Status, h.Message = api.ClusterError, err.Error()
		return h
	}
	ctx, cancel := context.WithTimeout(ctx, clusterCheckTimeout)
	defer cancel()
	info, err := kubecluster.Inspect(ctx, cfg, c.Name)
	switch {
	case err == nil:
		h.Status = api.ClusterHealthy
	case errors.Is(err, kubecluster.ErrUnreachable):
		h.Status = api.ClusterUnreachable
	case errors.Is(err, kubecluster.ErrUnauthorized):
		h.Status = api.ClusterUnauthorized
	case errors.Is(err, kubecluster.ErrUntrusted):
		h.Status = api.ClusterUntrusted
	case errors.Is(err, kubecluster.ErrForbidden):
		h.Status = api.ClusterForbidden
	default:
		h.Status = api.ClusterError
	}
	if err != nil {
		h.Message = err.Error()
		return h
	}
	h.Version, h.Nodes, h.ReadyNodes = info.Version, info.Nodes, info.ReadyNodes
	h.AllocatableCPU, h.AllocatableMemory, h.AllocatablePods = info.AllocatableCPU, info.AllocatableMemory, info.AllocatablePods
	return h
}

// clusterConfig reaches a stored cluster.
func (s *server) clusterConfig(ctx context.Context, c store.Cluster) (*rest.Config, error) {
	if c.InCluster {
		cfg, err := s.InCluster.Config()
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", c.Name, err)
		}
		return cfg, nil
	}
	if s.Clusters == nil {
		return nil, fmt.Errorf("cluster %s: no master key loaded to open its credentials", c.Name)
	}
	creds, err := s.Clusters.ClusterCredentials(ctx, c.Name)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: read credentials: %w", c.Name, err)
	}
	return kubecluster.Config(creds, "")
}

// ClusterVault stores clusters with their credentials sealed and opens
// them (internal/secretstore.Store); the API never handles keys.
type ClusterVault interface {
	CreateCluster(ctx context.Context, c store.Cluster, kubeconfig []byte) error
	ClusterCredentials(ctx context.Context, name string) ([]byte, error)
}

// createCluster stores c: an in-cluster one has nothing to seal.
func (s *server) createCluster(ctx context.Context, c store.Cluster, creds []byte) error {
	if creds == nil {
		return s.Store.CreateCluster(ctx, c, nil)
	}
	return s.Clusters.CreateCluster(ctx, c, creds)
}
