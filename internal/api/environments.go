package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Environments, like clusters, belong to the platform, not to a team:
// every handler needs envs:manage, checked as for clusters (403 without).

func (s *server) envAuthorize(ctx context.Context) error {
	denied := forbidden("managing environments needs the %s permission", rbac.EnvsManage)
	return s.authorize(ctx, "", rbac.EnvsManage, denied)
}

func envParam(r *http.Request) (string, error) {
	name := r.PathValue("env")
	if !appNameRE.MatchString(name) {
		return "", invalidField("env", "%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", name)
	}
	return name, nil
}

func toAPIEnvironment(e store.Environment) api.Environment {
	return api.Environment{Name: e.Name, Cluster: e.Cluster, Namespace: e.Namespace, StorageClass: e.StorageClass, CreatedAt: e.CreatedAt}
}

func (s *server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	var req api.EnvironmentRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	if err := s.envAuthorize(r.Context()); err != nil {
		return err
	}
	var details []api.FieldError
	if !appNameRE.MatchString(req.Name) {
		details = append(details, api.FieldError{Field: "name", Message: fmt.Sprintf("%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", req.Name)})
	}
	if !appNameRE.MatchString(req.Namespace) {
		details = append(details, api.FieldError{Field: "namespace", Message: fmt.Sprintf("%q is not a Kubernetes namespace name (a DNS label)", req.Namespace)})
	}
	if req.Cluster == "" {
		details = append(details, api.FieldError{Field: "cluster", Message: "required: the name of a cluster added with \"berth cluster add\""})
	} else if _, err := s.Store.GetCluster(r.Context(), req.Cluster); errors.Is(err, store.ErrNotFound) {
		details = append(details, api.FieldError{Field: "cluster", Message: fmt.Sprintf("no cluster named %q; see \"berth cluster list\"", req.Cluster)})
	} else if err != nil {
		return fmt.Errorf("create environment %s: %w", req.Name, err)
	}
	if len(details) > 0 {
		return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "invalid environment: %s: %s", details[0].Field, details[0].Message).withDetails(details...)
	}
	e := store.Environment{Name: req.Name, Cluster: req.Cluster, Namespace: req.Namespace, StorageClass: req.StorageClass, CreatedAt: s.Now().UTC()}
	if err := s.Store.CreateEnvironment(r.Context(), e); errors.Is(err, store.ErrExists) {
		return conflict("environment %q, or one on cluster %s namespace %s, already exists; see \"berth env list\"", req.Name, req.Cluster, req.Namespace)
	} else if err != nil {
		return fmt.Errorf("create environment %s: %w", req.Name, err)
	}
	s.Logger.Info("environment created", "env", e.Name, "cluster", e.Cluster, "namespace", e.Namespace)
	writeJSON(w, http.StatusCreated, toAPIEnvironment(e))
	return nil
}

func (s *server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	if err := s.envAuthorize(r.Context()); err != nil {
		return err
	}
	es, err := s.Store.ListEnvironments(r.Context())
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	out := make([]api.Environment, len(es))
	for i, e := range es {
		out[i] = toAPIEnvironment(e)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	name, err := envParam(r)
	if err != nil {
		return err
	}
	if err := s.envAuthorize(r.Context()); err != nil {
		return err
	}
	e, err := s.Store.GetEnvironment(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("environment %q not found", name)
	}
	if err != nil {
		return fmt.Errorf("get environment %s: %w", name, err)
	}
	writeJSON(w, http.StatusOK, toAPIEnvironment(e))
	return nil
}

func (s *server) removeEnvironment(w http.ResponseWriter, r *http.Request) error {
	name, err := envParam(r)
	if err != nil {
		return err
	}
	if err := s.envAuthorize(r.Context()); err != nil {
		return err
	}
	apps, err := s.Store.ListApps(r.Context())
	if err != nil {
		return fmt.Errorf("remove environment %s: %w", name, err)
	}
	var using []string
	for _, a := range apps {
		if a.Env == name {
			using = append(using, a.Name)
		}
	}
	if len(using) > 0 {
		return conflict("environment %q runs apps %s; delete them first with \"berth delete\"", name, strings.Join(using, ", "))
	}
	if err := s.Store.DeleteEnvironment(r.Context(), name); errors.Is(err, store.ErrNotFound) {
		return notFound("environment %q not found", name)
	} else if err != nil {
		return fmt.Errorf("remove environment %s: %w", name, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// clusterInUse names the environments on a cluster (a cluster they use
// cannot be removed).
func (s *server) clusterInUse(ctx context.Context, cluster string) ([]string, error) {
	es, err := s.Store.ListEnvironments(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range es {
		if e.Cluster == cluster {
			names = append(names, e.Name)
		}
	}
	return names, nil
}
