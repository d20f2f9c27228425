package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/store"
)

func testCluster(name string) store.Cluster {
	return store.Cluster{Name: name, Server: "https://" + name + ".example:6443", Context: "ctx-" + name,
		CreatedAt: time.Date(2026, 3, 4, 5, 6, 7, 8, time.UTC)}
}

var clusterTests = []test{
	{desc: "clusters/create, get, list, credentials, delete", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		creds := []byte("apiVersion: v1\nkind: Config\n# secret-token\n")
		for _, n := range []string{"prod", "dev"} {
			must(t, s.CreateCluster(ctx, testCluster(n), creds))
		}
		got, err := s.GetCluster(ctx, "prod")
		must(t, err)
		if want := testCluster("prod"); got != want {
			t.Errorf("GetCluster = %+v, want %+v", got, want)
		}
		list, err := s.ListClusters(ctx)
		must(t, err)
		if len(list) != 2 || list[0].Name != "dev" || list[1].Name != "prod" {
			t.Errorf("ListClusters = %+v, want dev, prod", list)
		}
		b, err := s.ClusterCredentials(ctx, "prod")
		must(t, err)
		if !bytes.Equal(b, creds) {
			t.Errorf("ClusterCredentials = %q", b)
		}
		must(t, s.SetClusterCredentials(ctx, "prod", []byte("resealed")))
		if b, err = s.ClusterCredentials(ctx, "prod"); err != nil || string(b) != "resealed" {
			t.Errorf("ClusterCredentials after set = %q, %v", b, err)
		}
		wantErr(t, "set empty", s.SetClusterCredentials(ctx, "prod", nil), store.ErrInvalid)
		wantErr(t, "set on a missing cluster", s.SetClusterCredentials(ctx, "nope", []byte("k")), store.ErrNotFound)
		must(t, s.DeleteCluster(ctx, "prod"))
		_, err = s.GetCluster(ctx, "prod")
		wantErr(t, "GetCluster after delete", err, store.ErrNotFound)
		_, err = s.ClusterCredentials(ctx, "prod")
		wantErr(t, "ClusterCredentials after delete", err, store.ErrNotFound)
		wantErr(t, "second delete", s.DeleteCluster(ctx, "prod"), store.ErrNotFound)
		// A new cluster of the same name does not inherit old credentials.
		in := testCluster("prod")
		in.InCluster = true
		must(t, s.CreateCluster(ctx, in, nil))
		b, err = s.ClusterCredentials(ctx, "prod")
		must(t, err)
		if b != nil {
			t.Errorf("in-cluster credentials = %q, want none", b)
		}
		wantErr(t, "set on an in-cluster cluster", s.SetClusterCredentials(ctx, "prod", []byte("k")), store.ErrNotFound)
	}},
	{desc: "clusters/duplicates and invalid", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		must(t, s.CreateCluster(ctx, testCluster("prod"), []byte("k")))
		err := s.CreateCluster(ctx, testCluster("prod"), []byte("k"))
		wantErr(t, "same name", err, store.ErrExists)
		if err != nil && strings.Contains(err.Error(), "k\"") {
			t.Errorf("error shows credentials: %v", err)
		}
		wantErr(t, "empty name", s.CreateCluster(ctx, testCluster(""), []byte("k")), store.ErrInvalid)
		wantErr(t, "no credentials", s.CreateCluster(ctx, testCluster("x"), nil), store.ErrInvalid)
		_, err = s.GetCluster(ctx, "x")
		wantErr(t, "refused create left a record", err, store.ErrNotFound)
	}},
	{desc: "clusters/rolled back with the transaction", run: func(t *testing.T, s store.Store) {
		ctx := t.Context()
		errStop := errTest("stop")
		err := s.InTx(ctx, func(tx store.Tx) error {
			must(t, tx.CreateCluster(ctx, testCluster("prod"), []byte("k")))
			return errStop
		})
		wantErr(t, "InTx", err, errStop)
		_, err = s.GetCluster(ctx, "prod")
		wantErr(t, "after rollback", err, store.ErrNotFound)
	}},
}

type errTest string

func (e errTest) Error() string { return string(e) }
