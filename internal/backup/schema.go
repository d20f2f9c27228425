package backup

import (
	"encoding/json"
	"fmt"

	"github.com/berthdev/berth/internal/store"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// What backup and restore know of the schema beyond tables and columns.
// Everything else is copied without being understood, so a new table
// needs no change here unless it refers to blobs, sealed data or
// clusters (schema_test.go fails for a new column named like one).

// blobColumn names, per table, the column that refers to blobs a backup
// carries: releases' source archives (for releases to be rebuilt) and
// the artifact archives runs' steps kept (in the steps JSON). The blob
// garbage collector's list of references is internal/retention/refs.go;
// a blob kind that backups must carry is named in both.
var blobColumn = map[string]blobRef{
	"releases": {column: "source", digests: digestValue},
	"runs":     {column: "steps", digests: stepArtifacts},
}

// blobRef is a column referring to blobs, and how to read the digests
// out of one of its values.
type blobRef struct {
	column  string
	digests func(v any) ([]string, error)
}

// digestValue reads a column that holds one digest, or "".
func digestValue(v any) ([]string, error) {
	if d := text(v); d != "" {
		return []string{d}, nil
	}
	return nil, nil
}

// stepArtifacts reads the kept (not expired) artifact archives of a run's
// steps, stored as JSON.
func stepArtifacts(v any) ([]string, error) {
	s := text(v)
	if s == "" {
		return nil, nil
	}
	var steps []store.RunStep
	if err := json.Unmarshal([]byte(s), &steps); err != nil {
		return nil, fmt.Errorf("backup: runs.steps: %w", err)
	}
	return store.KeptArtifacts(steps), nil
}

func text(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

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
