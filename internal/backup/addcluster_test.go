package backup

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/secretstore"
)

const newKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: "https://onprem.example:6443", insecure-skip-tls-verify: true}
- name: c2
  cluster: {server: "https://other.example:6443"}
users:
- name: u1
  user: {token: onprem-token}
- name: u2
  user: {token: other-token}
contexts:
- name: one
  context: {cluster: c1, user: u1}
- name: two
  context: {cluster: c2, user: u2}
current-context: two
`

// Restoring onto a cluster the old platform never knew: --add-cluster
// registers it (credentials sealed, one context kept) and --map-cluster
// moves the environments onto it.
func TestRestoreAddCluster(t *testing.T) {
	t.Parallel()
	db, blobs, _ := newSource(t)
	_, ring := newKey(t)
	populate(t, db, ring, blobs)
	file := backupOf(t, db, blobs, "")
	add := []NewCluster{{Name: "onprem", Kubeconfig: []byte(newKubeconfig), Context: "one"}}

	tests := []struct {
		desc    string
		opts    RestoreOptions
		wantErr error
		want    string
	}{
		{desc: "a name the backup has", opts: RestoreOptions{Keyring: ring, AddClusters: []NewCluster{{Name: "hz", Kubeconfig: []byte(newKubeconfig)}}},
			wantErr: ErrClusterMap, want: "registers a cluster of that name"},
		{desc: "a bad kubeconfig", opts: RestoreOptions{Keyring: ring, AddClusters: []NewCluster{{Name: "x", Kubeconfig: []byte("nope: [")}}},
			wantErr: ErrClusterMap, want: "--add-cluster x"},
		{desc: "an unknown context", opts: RestoreOptions{Keyring: ring, AddClusters: []NewCluster{{Name: "x", Kubeconfig: []byte(newKubeconfig), Context: "three"}}},
			wantErr: ErrClusterMap, want: "three"},
		{desc: "mapping onto a cluster nobody added", opts: RestoreOptions{Keyring: ring, MapCluster: map[string]string{"hz": "onprem"}},
			wantErr: ErrClusterMap, want: "--add-cluster onprem=KUBECONFIG"},
		{desc: "added and mapped", opts: RestoreOptions{Keyring: ring, AddClusters: add, MapCluster: map[string]string{"hz": "onprem"}}},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			dir := t.TempDir()
			tt.opts.BlobDir = filepath.Join(dir, "blobs")
			_, err := restoreFile(t.Context(), file, SQLiteTarget{Path: filepath.Join(dir, "berth.db")}, tt.opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("restore = %v; want %v naming %q", err, tt.wantErr, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := openSQLite(t, filepath.Join(dir, "berth.db"))
			c, err := got.GetCluster(t.Context(), "onprem")
			if err != nil || c.Server != "https://onprem.example:6443" || c.Context != "one" {
				t.Errorf("cluster onprem = %+v, %v", c, err)
			}
			kc, err := secretstore.New(got, ring).ClusterCredentials(t.Context(), "onprem")
			if err != nil || !strings.Contains(string(kc), "onprem-token") || strings.Contains(string(kc), "other-token") {
				t.Errorf("credentials = %q, %v; want the one context's", kc, err)
			}
			e, err := got.GetEnvironment(t.Context(), "prod")
			if err != nil || e.Cluster != "onprem" {
				t.Errorf("environment prod = %+v, %v", e, err)
			}
		})
	}
}
