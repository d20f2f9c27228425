package secretstore_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store"
)

const kubeCanary = "token: kube-canary-8c1e7a-Wq3"

func (f *fixture) cluster(t testing.TB, name string) {
	t.Helper()
	c := store.Cluster{Name: name, Server: "https://" + name + ".example", CreatedAt: time.Now().UTC()}
	if err := f.ss.CreateCluster(t.Context(), c, []byte(kubeCanary+"-"+name)); err != nil {
		t.Fatal(err)
	}
}

// A cluster's kubeconfig is stored as an envelope, opens for its cluster
// only, and is in no file of the database.
func TestClusterCredentialsSealed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.cluster(t, "prod")
	f.cluster(t, "dev")
	in := store.Cluster{Name: "here", InCluster: true, CreatedAt: time.Now().UTC()}
	if err := f.ss.CreateCluster(ctx, in, nil); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		desc string
		name string
		want string
	}{
		{desc: "prod", name: "prod", want: kubeCanary + "-prod"},
		{desc: "dev", name: "dev", want: kubeCanary + "-dev"},
		{desc: "in-cluster has none", name: "here"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := f.ss.ClusterCredentials(ctx, tc.name)
			if err != nil || string(got) != tc.want {
				t.Fatalf("ClusterCredentials = %q, %v; want %q", got, err, tc.want)
			}
			row, err := f.db.ClusterCredentials(ctx, tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				return
			}
			if id, err := secrets.KeyID(string(row)); err != nil || id != f.key.ID() {
				t.Errorf("stored row is not an envelope of the primary key: %q, %v", id, err)
			}
		})
	}
	if _, err := f.ss.ClusterCredentials(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing cluster: err = %v, want ErrNotFound", err)
	}

	checked := 0
	for _, p := range []string{f.path, f.path + "-wal", f.path + "-shm"} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checked++
		if bytes.Contains(b, []byte("kube-canary")) {
			t.Errorf("%s holds a kubeconfig in plaintext", filepath.Base(p))
		}
	}
	if checked < 2 {
		t.Errorf("checked %d database files, want the file and its WAL", checked)
	}
}

// prod's envelope copied into dev's row does not open there.
func TestClusterCredentialsMovedFail(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.cluster(t, "prod")
	f.cluster(t, "dev")
	row, err := f.db.ClusterCredentials(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.SetClusterCredentials(ctx, "dev", row); err != nil {
		t.Fatal(err)
	}
	_, err = f.ss.ClusterCredentials(ctx, "dev")
	if !errors.Is(err, secrets.ErrDecrypt) || !strings.Contains(err.Error(), `cluster "dev"`) {
		t.Errorf("moved envelope: err = %v, want ErrDecrypt naming cluster dev", err)
	}
	if err != nil && strings.Contains(err.Error(), "kube-canary") {
		t.Errorf("error shows the credentials: %v", err)
	}
	if got, err := f.ss.ClusterCredentials(ctx, "prod"); err != nil || string(got) != kubeCanary+"-prod" {
		t.Errorf("the original: %q, %v", got, err)
	}
}

// A row written in clear (before credentials were sealed) is refused when
// read, and sealed by SealPlaintextClusters; rotation refuses to run
// until then, and afterwards keeps every cluster readable with the new key.
func TestClusterCredentialsPlaintextAndRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.cluster(t, "prod")
	old := store.Cluster{Name: "old", Server: "https://old.example", CreatedAt: time.Now().UTC()}
	if err := f.db.CreateCluster(ctx, old, []byte(kubeCanary+"-old")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ss.ClusterCredentials(ctx, "old"); err == nil || !strings.Contains(err.Error(), "unencrypted") {
		t.Errorf("plaintext row: err = %v, want one saying it is unencrypted", err)
	}
	oldRing, err := secrets.NewKeyring(f.key)
	if err != nil {
		t.Fatal(err)
	}
	newKey, err := secrets.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := secretstore.Rotate(ctx, f.db, oldRing, newKey); err == nil || !strings.Contains(err.Error(), `cluster "old"`) {
		t.Errorf("rotation over a plaintext row: err = %v, want one naming cluster old", err)
	}
	if row, _ := f.db.ClusterCredentials(ctx, "prod"); !strings.HasPrefix(string(row), "bsec1:"+f.key.ID()) {
		t.Errorf("a refused rotation changed prod's row")
	}

	n, err := f.ss.SealPlaintextClusters(ctx)
	if err != nil || n != 1 {
		t.Fatalf("SealPlaintextClusters = %d, %v; want 1", n, err)
	}
	if n, err := f.ss.SealPlaintextClusters(ctx); err != nil || n != 0 {
		t.Errorf("second SealPlaintextClusters = %d, %v; want 0", n, err)
	}
	if got, err := f.ss.ClusterCredentials(ctx, "old"); err != nil || string(got) != kubeCanary+"-old" {
		t.Errorf("after sealing: %q, %v", got, err)
	}

	if n, err := secretstore.Rotate(ctx, f.db, oldRing, newKey); err != nil || n != 2 {
		t.Fatalf("rotate = %d, %v; want both clusters", n, err)
	}
	newRing, err := secrets.NewKeyring(newKey)
	if err != nil {
		t.Fatal(err)
	}
	ss := secretstore.New(f.db, newRing)
	for _, name := range []string{"prod", "old"} {
		if got, err := ss.ClusterCredentials(ctx, name); err != nil || string(got) != kubeCanary+"-"+name {
			t.Errorf("%s with the new key alone: %q, %v", name, got, err)
		}
	}
	if _, err := f.ss.ClusterCredentials(ctx, "prod"); !errors.Is(err, secrets.ErrUnknownKey) {
		t.Errorf("old key after rotation: err = %v, want ErrUnknownKey", err)
	}
}
