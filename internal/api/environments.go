package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/release"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Environments belong to a team: envs:manage in that team creates, reads
// and removes one; another team's environment answers the 404 of a
// missing one. Clusters stay the platform's, but a team admin may put an
// environment on any cluster by name. Environment names are unique
// across teams, as app names are.

func envParam(r *http.Request) (string, error) {
	name := r.PathValue("env")
	if !appNameRE.MatchString(name) {
		return "", invalidField("env", "%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", name)
	}
	return name, nil
}

func errEnvNotFound(name string) *httpError {
	return notFound("environment %q not found", name)
}

func toAPIEnvironment(e store.Environment, teamNames map[string]string) api.Environment {
	return api.Environment{Name: e.Name, Team: teamNames[e.Team], Cluster: e.Cluster, Namespace: e.Namespace, StorageClass: e.StorageClass,
		Routing: e.Routing, GatewayParent: e.GatewayParent, TLSSecrets: splitTLSSecrets(e.TLSSecrets), CreatedAt: e.CreatedAt}
}

// loadEnvironment returns the environment if the caller holds perm in its
// team; another team's answers exactly as a missing one.
func (s *server) loadEnvironment(ctx context.Context, name string, perm rbac.Permission) (store.Environment, error) {
	e, err := s.Store.GetEnvironment(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return store.Environment{}, errEnvNotFound(name)
	}
	if err != nil {
		return store.Environment{}, fmt.Errorf("get environment %s: %w", name, err)
	}
	if err := s.authorize(ctx, e.Team, perm, errEnvNotFound(name)); err != nil {
		return store.Environment{}, err
	}
	return e, nil
}

func (s *server) createEnvironment(w http.ResponseWriter, r *http.Request) error {
	var req api.EnvironmentRequest
	if err := s.decodeJSON(w, r, &req); err != nil {
		return err
	}
	team, err := s.ownerTeam(r.Context(), req.Team, teamChoice{perm: rbac.EnvsManage, may: "manage environments in", flag: "berth env create --team NAME"})
	if err != nil {
		return err
	}
	var details []api.FieldError
	if !appNameRE.MatchString(req.Name) {
		details = append(details, api.FieldError{Field: "name", Message: fmt.Sprintf("%q is not an environment name (lower-case letters, digits and '-', 1 to 63 characters)", req.Name)})
	} else if req.Name == release.LocalEnv {
		details = append(details, api.FieldError{Field: "name", Message: fmt.Sprintf("%q is reserved: pipelines' deploy steps name the server's local runtime so; choose another name", req.Name)})
	}
	if !appNameRE.MatchString(req.Namespace) {
		details = append(details, api.FieldError{Field: "namespace", Message: fmt.Sprintf("%q is not a Kubernetes namespace name (a DNS label)", req.Namespace)})
	}
	if req.Cluster == "" {
		details = append(details, api.FieldError{Field: "cluster", Message: "required: the name of a cluster added with \"berth cluster add\""})
	} else if _, err := s.Store.GetCluster(r.Context(), req.Cluster); errors.Is(err, store.ErrNotFound) {
		details = append(details, api.FieldError{Field: "cluster", Message: fmt.Sprintf("no cluster named %q; ask a platform admin for the name of one (\"berth cluster list\")", req.Cluster)})
	} else if err != nil {
		return fmt.Errorf("create environment %s: %w", req.Name, err)
	}
	details = append(details, validRouting(&req)...)
	details = append(details, validTLSSecrets(req.Routing, req.TLSSecrets)...)
	if len(details) > 0 {
		return newError(http.StatusUnprocessableEntity, api.CodeInvalid, "invalid environment: %s: %s", details[0].Field, details[0].Message).withDetails(details...)
	}
	e := store.Environment{Name: req.Name, Team: team.ID, Cluster: req.Cluster, Namespace: req.Namespace, StorageClass: req.StorageClass,
		Routing: req.Routing, GatewayParent: req.GatewayParent, TLSSecrets: strings.Join(req.TLSSecrets, ","), CreatedAt: s.Now().UTC()}
	// A name or namespace taken by another team answers the same 409,
	// which names nothing the caller did not send.
	if err := s.Store.CreateEnvironment(r.Context(), e); errors.Is(err, store.ErrExists) {
		return conflict("environment %q, or one on cluster %s namespace %s, already exists; choose another name or namespace", req.Name, req.Cluster, req.Namespace)
	} else if err != nil {
		return fmt.Errorf("create environment %s: %w", req.Name, err)
	}
	s.loggerFrom(r.Context()).Info("environment created", "env", e.Name, "team", team.Name, "cluster", e.Cluster, "namespace", e.Namespace)
	writeJSON(w, http.StatusCreated, toAPIEnvironment(e, map[string]string{team.ID: team.Name}))
	return nil
}

func (s *server) listEnvironments(w http.ResponseWriter, r *http.Request) error {
	es, err := s.Store.ListEnvironments(r.Context())
	if err != nil {
		return fmt.Errorf("list environments: %w", err)
	}
	teams := make([]string, len(es))
	for i, e := range es {
		teams[i] = e.Team
	}
	mine, names, err := s.teamsAmong(r.Context(), rbac.EnvsRead, teams)
	if err != nil {
		return err
	}
	// A platform admin also sees environments of no team (made before
	// environments had teams, with no default team to give them to).
	p, _ := principalFrom(r.Context())
	mine[""] = p.PlatformAdmin && rbac.Authorize(p, "", rbac.EnvsRead) == nil
	es = slices.DeleteFunc(es, func(e store.Environment) bool { return !mine[e.Team] })
	out := make([]api.Environment, 0, len(es))
	for _, e := range es {
		out = append(out, toAPIEnvironment(e, names))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) getEnvironment(w http.ResponseWriter, r *http.Request) error {
	name, err := envParam(r)
	if err != nil {
		return err
	}
	e, err := s.loadEnvironment(r.Context(), name, rbac.EnvsRead)
	if err != nil {
		return err
	}
	names, err := s.teamNamesOf(r.Context(), e.Team)
	if err != nil {
		return err
	}
	out := toAPIEnvironment(e, names)
	st, err := s.Store.EnvironmentStatus(r.Context(), name)
	if err != nil && !errors.Is(err, store.ErrNotFound) { // removed meanwhile: shown without status
		return fmt.Errorf("environment %s status: %w", name, err)
	}
	if !st.CheckedAt.IsZero() || st.Gateway != "" {
		out.Status = &st
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *server) removeEnvironment(w http.ResponseWriter, r *http.Request) error {
	name, err := envParam(r)
	if err != nil {
		return err
	}
	if _, err := s.loadEnvironment(r.Context(), name, rbac.EnvsManage); err != nil {
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
		return errEnvNotFound(name)
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

// validRouting checks the routing mode and its Gateway, defaulting the
// mode to Berth's own gateway.
func validRouting(req *api.EnvironmentRequest) []api.FieldError {
	switch req.Routing {
	case "":
		req.Routing = api.RoutingGateway
	case api.RoutingGateway, api.RoutingGatewayAPI:
	default:
		return []api.FieldError{{Field: "routing", Message: fmt.Sprintf("%q is not a routing mode: want %q (Berth's gateway in the namespace) or %q (HTTPRoutes for the cluster's Gateway API implementation)", req.Routing, api.RoutingGateway, api.RoutingGatewayAPI)}}
	}
	switch {
	case req.Routing == api.RoutingGateway && req.GatewayParent != "":
		return []api.FieldError{{Field: "gateway_parent", Message: fmt.Sprintf("only for routing %q: Berth's own gateway needs no Gateway object", api.RoutingGatewayAPI)}}
	case req.Routing == api.RoutingGatewayAPI && req.GatewayParent == "":
		return []api.FieldError{{Field: "gateway_parent", Message: "required with routing gateway-api: the Gateway the HTTPRoutes attach to, NAME or NAMESPACE/NAME"}}
	case req.Routing == api.RoutingGatewayAPI:
		ns, name, found := strings.Cut(req.GatewayParent, "/")
		if !found {
			ns, name = "", ns
		}
		if (found && !appNameRE.MatchString(ns)) || !appNameRE.MatchString(name) {
			return []api.FieldError{{Field: "gateway_parent", Message: fmt.Sprintf("%q is not NAME or NAMESPACE/NAME of a Gateway (DNS labels)", req.GatewayParent)}}
		}
	}
	return nil
}
