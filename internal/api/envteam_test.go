package api

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Environments belong to a team: another team's is a missing one, to its
// routes and to apply --env; a platform admin manages them all.
func TestEnvironmentsBelongToATeam(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := t.Context()
	if err := ts.db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}
	teamA, teamB := ts.createTeam(t, "team-a"), ts.createTeam(t, "team-b")
	tokenOf := func(email, team string, role rbac.Role, scope rbac.Scope) string {
		u := ts.addUser(t, email, map[string]rbac.Role{team: role})
		tok, _ := ts.personalToken(t, u.ID, scope)
		return tok
	}
	adminA := tokenOf("admin@a.example", teamA.ID, rbac.RoleAdmin, rbac.ScopeAdmin)
	adminB := tokenOf("admin@b.example", teamB.ID, rbac.RoleAdmin, rbac.ScopeAdmin)
	devA := tokenOf("dev@a.example", teamA.ID, rbac.RoleDeveloper, rbac.ScopeDeploy)
	devB := tokenOf("dev@b.example", teamB.ID, rbac.RoleDeveloper, rbac.ScopeDeploy)

	// A team admin creates one in their only team, on a platform cluster.
	var prod api.Environment
	ts.mustAs(t, adminA, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "prod", Cluster: "eu", Namespace: "shop"}, &prod)
	if prod.Team != "team-a" {
		t.Errorf("created env team %q, want team-a", prod.Team)
	}
	status, body := ts.callAs(t, adminA, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "qa", Team: "team-b", Cluster: "eu", Namespace: "qa"})
	if e := decodeError(t, body); status != 422 || e.Details[0].Field != "team" {
		t.Errorf("env in a team not one's own: %d %+v", status, e)
	}
	// Developers and viewers of the team see where their apps can go;
	// only admins create and remove environments.
	viewerA := tokenOf("viewer@a.example", teamA.ID, rbac.RoleViewer, rbac.ScopeRead)
	for _, tok := range []string{devA, viewerA} {
		var got api.Environment
		ts.mustAs(t, tok, http.StatusOK, "GET", "/api/v1/envs/prod", nil, &got)
		var list []api.Environment
		ts.mustAs(t, tok, http.StatusOK, "GET", "/api/v1/envs", nil, &list)
		if !reflect.DeepEqual(got, prod) || len(list) != 1 || !reflect.DeepEqual(list[0], prod) {
			t.Errorf("a member of the env's team reads %+v and lists %+v, want %+v", got, list, prod)
		}
		status, body := ts.callAs(t, tok, "DELETE", "/api/v1/envs/prod", nil)
		if status != http.StatusForbidden {
			t.Errorf("a developer or viewer removing the env: %d %s, want 403", status, body)
		}
		status, body = ts.callAs(t, tok, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "qa", Cluster: "eu", Namespace: "qa"})
		if status != http.StatusForbidden && status != http.StatusUnprocessableEntity {
			t.Errorf("a developer or viewer creating an env: %d %s, want refused", status, body)
		}
	}
	if _, err := ts.db.GetEnvironment(ctx, "qa"); err == nil {
		t.Errorf("a developer or viewer created an env")
	}

	t.Run("another team's env is a missing one", func(t *testing.T) {
		for _, method := range []string{"GET", "DELETE"} {
			status, body := ts.callAs(t, adminB, method, "/api/v1/envs/prod", nil)
			_, missBody := ts.callAs(t, adminB, method, "/api/v1/envs/nope", nil)
			got := normalise404(t, body, map[string]string{"env": "prod"})
			if want := normalise404(t, missBody, map[string]string{"env": "nope"}); status != 404 || got != want {
				t.Errorf("%s another team's env: %d %s, want the 404 of a missing one: %s", method, status, got, want)
			}
		}
		var list []api.Environment
		ts.mustAs(t, adminB, http.StatusOK, "GET", "/api/v1/envs", nil, &list)
		if len(list) != 0 {
			t.Errorf("team B lists %+v", list)
		}
		status, body := ts.callAs(t, adminB, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "prod", Cluster: "eu", Namespace: "other"})
		if status != http.StatusConflict || strings.Contains(string(body), "team-a") {
			t.Errorf("a name another team holds: %d %s, want a bare 409", status, body)
		}
		if _, err := ts.db.GetEnvironment(ctx, "prod"); err != nil {
			t.Errorf("team B's calls removed team A's env: %v", err)
		}
	})

	withImage := "name: %s\nservices:\n  web: {image: 'registry.example/shop:1', ports: [8080]}\n"
	var devEnv api.Environment
	ts.mustAs(t, adminB, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "dev-b", Cluster: "eu", Namespace: "dev-b"}, &devEnv)

	t.Run("apply --env of another team's env answers as a missing one", func(t *testing.T) {
		for _, c := range []struct {
			desc, tok, app, env string
		}{
			{"new app of team B into team A's env", devB, "web-b", "prod"},
			{"new app of team A into team B's env", devA, "web-a", "dev-b"},
		} {
			t.Run(c.desc, func(t *testing.T) {
				spec := strings.ReplaceAll(withImage, "%s", c.app)
				status, body := ts.callAs(t, c.tok, "POST", "/api/v1/apply", api.ApplyRequest{Spec: spec, Env: c.env})
				_, missBody := ts.callAs(t, c.tok, "POST", "/api/v1/apply", api.ApplyRequest{Spec: spec, Env: "nope"})
				e, miss := decodeError(t, body), decodeError(t, missBody)
				got := strings.ReplaceAll(e.Details[0].Message, `"`+c.env+`"`, `"nope"`)
				if status != 422 || e.Details[0].Field != "env" || got != miss.Details[0].Message {
					t.Errorf("apply --env %s: %d %+v, want as missing: %+v", c.env, status, e, miss)
				}
				if _, err := ts.db.GetApp(ctx, c.app); err == nil {
					t.Errorf("a refused apply created %s", c.app)
				}
			})
		}
		// An existing app of team A, applied by the platform admin (a
		// member of every team) to team B's env: still refused.
		shop := strings.ReplaceAll(withImage, "%s", "shop")
		ts.mustAs(t, devA, http.StatusOK, "POST", "/api/v1/apply", api.ApplyRequest{Spec: shop, Env: "prod"}, nil)
		status, body := ts.call(t, "POST", "/api/v1/apply", api.ApplyRequest{Spec: shop, Env: "dev-b"})
		if e := decodeError(t, body); status != 422 || e.Details[0].Field != "env" || !strings.Contains(e.Details[0].Message, `no environment named "dev-b"`) {
			t.Errorf("existing app into another team's env: %d %+v", status, e)
		}
	})

	t.Run("a platform admin manages all", func(t *testing.T) {
		var list []api.Environment
		ts.mustCall(t, http.StatusOK, "GET", "/api/v1/envs", nil, &list)
		if len(list) != 2 || list[0].Name != "dev-b" || list[0].Team != "team-b" || !reflect.DeepEqual(list[1], prod) {
			t.Errorf("platform admin lists %+v", list)
		}
		var got api.Environment
		ts.mustCall(t, http.StatusOK, "GET", "/api/v1/envs/dev-b", nil, &got)
		if !reflect.DeepEqual(got, devEnv) {
			t.Errorf("get %+v, want %+v", got, devEnv)
		}
		var made api.Environment
		ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "qa-b", Team: "team-b", Cluster: "eu", Namespace: "qa-b"}, &made)
		if made.Team != "team-b" {
			t.Errorf("platform admin's env in team-b: team %q", made.Team)
		}
		ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/envs/dev-b", nil, nil)
		ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/envs/qa-b", nil, nil)
		ts.mustCall(t, http.StatusNotFound, "GET", "/api/v1/envs/dev-b", nil, nil)
	})
}
