package api

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
)

// Environments and apply --env, on a cluster record in the store (no
// connection is made: creating an environment only checks the cluster
// is known).
func TestEnvironmentsAndApplyToOne(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	ctx := context.Background()
	if err := ts.db.CreateCluster(ctx, store.Cluster{Name: "eu", Server: "https://eu.example", CreatedAt: time.Now()}, []byte("kubeconfig")); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		desc  string
		req   api.EnvironmentRequest
		field string
	}{
		{"unknown cluster", api.EnvironmentRequest{Name: "staging", Cluster: "us", Namespace: "shop"}, "cluster"},
		{"bad namespace", api.EnvironmentRequest{Name: "staging", Cluster: "eu", Namespace: "Shop"}, "namespace"},
		{"bad name", api.EnvironmentRequest{Name: "Staging", Cluster: "eu", Namespace: "shop"}, "name"},
		{"reserved name", api.EnvironmentRequest{Name: "local", Cluster: "eu", Namespace: "shop"}, "name"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			status, body := ts.call(t, "POST", "/api/v1/envs", c.req)
			e := decodeError(t, body)
			if status != http.StatusUnprocessableEntity || e.Details[0].Field != c.field {
				t.Errorf("status %d %+v, want 422 on %s", status, e, c.field)
			}
		})
	}
	var env api.Environment
	ts.mustCall(t, http.StatusCreated, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "staging", Cluster: "eu", Namespace: "shop"}, &env)
	ts.mustCall(t, http.StatusConflict, "POST", "/api/v1/envs", api.EnvironmentRequest{Name: "other", Cluster: "eu", Namespace: "shop"}, nil)
	var list []api.Environment
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/envs", nil, &list)
	if len(list) != 1 || !reflect.DeepEqual(list[0], env) {
		t.Errorf("list %+v, want [%+v]", list, env)
	}
	status, body := ts.call(t, "DELETE", "/api/v1/clusters/eu", nil)
	if status != http.StatusConflict || !strings.Contains(string(body), "used by environments staging") {
		t.Errorf("removing a cluster in use: %d %s", status, body)
	}

	// apply --env: the environment must exist, every service needs an image.
	noImage := "name: shop\nservices:\n  web: {command: [./web], ports: [8080]}\n  api: {command: [./api]}\n"
	status, body = ts.call(t, "POST", "/api/v1/apply", api.ApplyRequest{Spec: noImage, Env: "nope"})
	if e := decodeError(t, body); status != 422 || e.Details[0].Field != "env" {
		t.Errorf("unknown env: %d %+v", status, e)
	}
	status, body = ts.call(t, "POST", "/api/v1/apply", api.ApplyRequest{Spec: noImage, Env: "staging"})
	e := decodeError(t, body)
	if status != 422 || len(e.Details) != 2 || e.Details[0].Field != "services.api.image" || e.Details[1].Field != "services.web.image" ||
		!strings.Contains(e.Details[1].Message, `service "web" has none`) {
		t.Errorf("services without images: %d %+v", status, e)
	}
	if _, err := ts.db.GetApp(ctx, "shop"); err == nil {
		t.Fatal("a refused apply created the app")
	}
	withImage := "name: shop\nservices:\n  web: {image: 'registry.example/shop:1', ports: [8080]}\n"
	ts.mustCall(t, http.StatusOK, "POST", "/api/v1/apply", api.ApplyRequest{Spec: withImage, Env: "staging"}, nil)
	var app api.App
	ts.mustCall(t, http.StatusOK, "GET", "/api/v1/apps/shop", nil, &app)
	if app.Env != "staging" {
		t.Errorf("app env %q, want staging", app.Env)
	}
	status, body = ts.call(t, "POST", "/api/v1/apply", api.ApplyRequest{Spec: withImage})
	if status != http.StatusConflict || !strings.Contains(string(body), `runs in environment staging, not the local runtime`) {
		t.Errorf("apply to another environment: %d %s", status, body)
	}
	status, body = ts.call(t, "DELETE", "/api/v1/envs/staging", nil)
	if status != http.StatusConflict || !strings.Contains(string(body), "runs apps shop") {
		t.Errorf("removing an environment in use: %d %s", status, body)
	}
	ts.mustCall(t, http.StatusAccepted, "DELETE", "/api/v1/apps/shop", nil, nil)
	if err := ts.db.DeleteApp(ctx, "shop"); err != nil { // the reconciler's part
		t.Fatal(err)
	}
	ts.mustCall(t, http.StatusNoContent, "DELETE", "/api/v1/envs/staging", nil, nil)
	ts.mustCall(t, http.StatusNotFound, "GET", "/api/v1/envs/staging", nil, nil)
}
