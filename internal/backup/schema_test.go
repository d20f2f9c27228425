package backup

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/store/snapshot"
)

// What backup knows of the schema (schema.go) must cover every column
// named like a cluster reference, sealed data or a blob (a source
// archive, a digest), so a new table with one does not slip past
// --map-cluster, the key check or the archives a backup carries.
func TestSchemaKnowledge(t *testing.T) {
	t.Parallel()
	db := openSQLite(t, filepath.Join(t.TempDir(), "berth.db"))
	var tables []snapshot.Table
	if err := db.Snapshot(t.Context(), func(r snapshot.Reader) error { tables = r.Tables(); return nil }); err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{"clusters.name": true, "cluster_credentials.cluster": true}
	// Named like one, but not one.
	notRefs := map[string]bool{"clusters.in_cluster": true, "members.source": true,
		// Blobs a backup leaves out on purpose: cache archives are large
		// and made again; restore forgets a row whose archive is missing
		// (docs/backup.md). The blob collector still counts them
		// (internal/retention/refs.go).
		"pipeline_caches.digest": true,
	}
	for tb, c := range clusterRef {
		known[tb+"."+c] = true
	}
	for tb, c := range sealedColumn {
		known[tb+"."+c] = true
	}
	for tb, ref := range blobColumn {
		known[tb+"."+ref.column] = true
	}
	for _, tb := range tables {
		for _, c := range tb.Columns {
			name := tb.Name + "." + c.Name
			looks := c.Name == "cluster" || strings.HasSuffix(c.Name, "_cluster") ||
				c.Name == "envelope" || c.Name == "kubeconfig" || c.Name == "source" ||
				c.Name == "digest" || strings.HasSuffix(c.Name, "_digest")
			if looks && !known[name] && !notRefs[name] {
				t.Errorf("column %s looks like a cluster reference, sealed data or a blob; teach schema.go about it", name)
			}
		}
	}
	for name := range known {
		tb, col, _ := strings.Cut(name, ".")
		found := false
		for _, t := range tables {
			if t.Name == tb && columnIndex(t, col) >= 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("schema.go names %s, which the schema lacks", name)
		}
	}
}
