package backup

import "github.com/berthdev/berth/internal/store/snapshot"

// What backup and restore know of the schema beyond tables and columns.
// Everything else is copied without being understood, so a new table
// needs no change here unless it refers to source archives, sealed data
// or clusters (schema_test.go fails for a new column named like one).

// sourceColumn names, per table, the column holding a source archive's
// digest: the blobs a backup must carry for releases to be rebuilt.
var sourceColumn = map[string]string{"releases": "source"}

// sealedColumn names, per table, the column holding data sealed with the
// master key. Restore opens one value per key ID to prove it has the key.
var sealedColumn = map[string]string{
	"secrets":             "envelope",
	"secret_versions":     "envelope",
	"cluster_credentials": "kubeconfig",
}

// clusterRef names, per table, a column that refers to a cluster by
// name: what --map-cluster rewrites.
var clusterRef = map[string]string{"environments": "cluster"}

// The clusters registered in a backup.
const (
	clusterTable  = "clusters"
	clusterColumn = "name"
)

func sealedColumns(t snapshot.Table) []int {
	if i := columnIndex(t, sealedColumn[t.Name]); i >= 0 {
		return []int{i}
	}
	return nil
}
