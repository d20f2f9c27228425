package storetest

import (
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testEnvironment(name, cluster, ns string) store.Environment {
	return store.Environment{Name: name, Team: "team_" + name, Cluster: cluster, Namespace: ns, StorageClass: "fast",
		CreatedAt: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)}
}

var environmentTests = []test{
	{desc: "environments/create, get, list, delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateEnvironment(ctx, testEnvironment("staging", "eu", "shop-staging")))
		must(t, s.CreateEnvironment(ctx, testEnvironment("prod", "eu", "shop")))
		got, err := s.GetEnvironment(ctx, "prod")
		must(t, err)
		if want := testEnvironment("prod", "eu", "shop"); got != want {
			t.Errorf("GetEnvironment = %+v, want %+v", got, want)
		}
		// The routing mode and its Gateway are kept as given.
		api := testEnvironment("api", "eu", "shop-api")
		api.Routing, api.GatewayParent = "gateway-api", "infra/edge"
		must(t, s.CreateEnvironment(ctx, api))
		if got, err := s.GetEnvironment(ctx, "api"); err != nil || got != api {
			t.Errorf("GetEnvironment(api) = %+v, %v; want %+v", got, err, api)
		}
		must(t, s.DeleteEnvironment(ctx, "api"))
		list, err := s.ListEnvironments(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Name != "prod" || list[1].Name != "staging" || list[1].Team != "team_staging" {
			t.Errorf("ListEnvironments = %+v", list)
		}
		must(t, s.DeleteEnvironment(ctx, "prod"))
		_, err = s.GetEnvironment(ctx, "prod")
		wantErr(t, "after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteEnvironment(ctx, "prod"), store.ErrNotFound)
	}},
	{desc: "environments/one per namespace, and invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateEnvironment(ctx, testEnvironment("prod", "eu", "shop")))
		wantErr(t, "same name", s.CreateEnvironment(ctx, testEnvironment("prod", "us", "other")), store.ErrExists)
		wantErr(t, "same namespace", s.CreateEnvironment(ctx, testEnvironment("prod2", "eu", "shop")), store.ErrExists)
		must(t, s.CreateEnvironment(ctx, testEnvironment("us", "us", "shop"))) // same namespace, other cluster
		wantErr(t, "no cluster", s.CreateEnvironment(ctx, testEnvironment("x", "", "ns")), store.ErrInvalid)
		wantErr(t, "no namespace", s.CreateEnvironment(ctx, testEnvironment("x", "eu", "")), store.ErrInvalid)
		wantErr(t, "no name", s.CreateEnvironment(ctx, testEnvironment("", "eu", "ns2")), store.ErrInvalid)
	}},
}
