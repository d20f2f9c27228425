package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/pkg/api"
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
	{desc: "environments/update settings, and the status apart", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		e := testEnvironment("prod", "eu", "shop")
		e.TLSSecrets = "shop-tls"
		must(t, s.CreateEnvironment(ctx, e))
		if got, err := s.GetEnvironment(ctx, "prod"); err != nil || got != e {
			t.Errorf("GetEnvironment = %+v, %v; want %+v", got, err, e)
		}
		if st, err := s.EnvironmentStatus(ctx, "prod"); err != nil || !reflect.DeepEqual(st, api.EnvironmentStatus{}) {
			t.Errorf("status before any = %+v, %v", st, err)
		}
		st := api.EnvironmentStatus{Gateway: api.GatewayDegraded, Replicas: 2, Ready: 1, Problems: []string{"secret x: not found"},
			TLSSecrets: []api.TLSSecretStatus{{Name: "shop-tls", Served: true, Names: []string{"shop.example"}, NotAfter: time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)}},
			CheckedAt:  time.Date(2026, 3, 4, 5, 6, 8, 0, time.UTC)}
		must(t, s.SetEnvironmentStatus(ctx, "prod", st))
		// Settings and status are written apart: neither overwrites the other.
		e.TLSSecrets, e.StorageClass = "a-tls,b-tls", "ignored"
		must(t, s.UpdateEnvironment(ctx, e))
		got, err := s.GetEnvironment(ctx, "prod")
		must(t, err)
		if got.TLSSecrets != "a-tls,b-tls" || got.StorageClass != "fast" {
			t.Errorf("after update = %+v, want tls_secrets a-tls,b-tls and storage class kept", got)
		}
		if got, err := s.EnvironmentStatus(ctx, "prod"); err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("status = %+v, %v; want %+v", got, err, st)
		}
		e.Name = "nope"
		wantErr(t, "update missing", s.UpdateEnvironment(ctx, e), store.ErrNotFound)
		wantErr(t, "status of missing", s.SetEnvironmentStatus(ctx, "nope", st), store.ErrNotFound)
		_, err = s.EnvironmentStatus(ctx, "nope")
		wantErr(t, "status of missing", err, store.ErrNotFound)
	}},
}
