package backup

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store/snapshot"
)

// inspector is the first pass: it reads everything (scan checks the
// structure and digests) and keeps what the checks before writing need.
type inspector struct {
	clusters map[string]bool
	// refs are the rows referring to a cluster: table, row key, cluster.
	refs []clusterUse
	// sealed holds one sealed value per key ID, with the row it is bound
	// to, and every cluster credential.
	sealed   []sealedValue
	keysSeen map[string]bool
}

type clusterUse struct {
	table, key, cluster, namespace string
}

type sealedValue struct {
	what     string
	binding  secrets.Binding
	envelope string
	keyID    string
}

func newInspector() *inspector {
	return &inspector{clusters: map[string]bool{}, keysSeen: map[string]bool{}}
}

func (in *inspector) header(Header) error                 { return nil }
func (in *inspector) table(snapshot.Table) error          { return nil }
func (in *inspector) sequences(map[string]int64) error    { return nil }
func (in *inspector) blob(string, int64, io.Reader) error { return nil }

func (in *inspector) row(t snapshot.Table, vals []any) error {
	str := func(col string) string {
		if i := columnIndex(t, col); i >= 0 {
			s, _ := vals[i].(string)
			return s
		}
		return ""
	}
	if t.Name == clusterTable {
		in.clusters[str(clusterColumn)] = true
	}
	if col := clusterRef[t.Name]; col != "" {
		in.refs = append(in.refs, clusterUse{table: t.Name, key: str("name"), cluster: str(col), namespace: str("namespace")})
	}
	if col := sealedColumn[t.Name]; col != "" {
		i := columnIndex(t, col)
		if i < 0 {
			return nil
		}
		env := ""
		switch v := vals[i].(type) {
		case string:
			env = v
		case []byte:
			env = string(v)
		}
		id, ok := sealedKeyID(env)
		if !ok {
			return nil // a kubeconfig an old build stored in clear
		}
		var sv sealedValue
		if t.Name == "cluster_credentials" {
			sv = sealedValue{what: "credentials of cluster " + str("cluster"), binding: secretstore.ClusterBinding(str("cluster"))}
		} else {
			if in.keysSeen[id] {
				return nil
			}
			sv = sealedValue{what: "secret " + str("app") + "/" + str("name"), binding: secretstore.Binding(str("team"), str("app"), str("name"))}
		}
		in.keysSeen[id] = true
		sv.envelope, sv.keyID = env, id
		in.sealed = append(in.sealed, sv)
	}
	return nil
}

// checkKey opens the sampled sealed values with ring.
func (in *inspector) checkKey(ring *secrets.Keyring, from string) error {
	if len(in.sealed) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(in.keysSeen))
	if ring == nil {
		return fmt.Errorf("%w: the backup holds sealed secrets or cluster credentials (master key %s) and no master key was given; give the key they were sealed with: --master-key-file FILE or %s",
			ErrMasterKey, strings.Join(ids, ", "), secrets.EnvMasterKey)
	}
	for _, sv := range in.sealed {
		pt, err := ring.Open(sv.binding, sv.envelope)
		clear(pt)
		if err != nil {
			return fmt.Errorf("%w: %s was sealed with master key %s, and the key from %s is %s; restore with the key the backup's platform used (--master-key-file FILE or %s)",
				ErrMasterKey, sv.what, sv.keyID, from, ring.PrimaryID(), secrets.EnvMasterKey)
		}
	}
	return nil
}

// checkClusterMap checks every mapping names clusters of the backup and
// that, once mapped, every reference lands on a cluster the backup
// registers, and no two environments share a cluster's namespace.
func (in *inspector) checkClusterMap(m map[string]string) error {
	known := slices.Sorted(maps.Keys(in.clusters))
	referenced := map[string]bool{}
	for _, r := range in.refs {
		referenced[r.cluster] = true
	}
	list := strings.Join(known, ", ")
	if list == "" {
		list = "none"
	}
	for _, from := range slices.Sorted(maps.Keys(m)) {
		to := m[from]
		if !in.clusters[from] && !referenced[from] {
			return fmt.Errorf("%w: --map-cluster %s=%s: the backup has no cluster %q (its clusters: %s)", ErrClusterMap, from, to, from, list)
		}
		if !in.clusters[to] {
			return fmt.Errorf("%w: --map-cluster %s=%s: cluster %q is not in the backup (its clusters: %s); map onto one of those, or register it with --add-cluster %s=KUBECONFIG",
				ErrClusterMap, from, to, to, list, to)
		}
	}
	taken := map[[2]string]string{}
	for _, r := range in.refs {
		c := r.cluster
		if to, ok := m[c]; ok {
			c = to
		}
		if !in.clusters[c] {
			return fmt.Errorf("%w: %s %q refers to cluster %q, which the backup does not register (its clusters: %s); map it with --map-cluster %s=CLUSTER",
				ErrClusterMap, strings.TrimSuffix(r.table, "s"), r.key, c, list, c)
		}
		k := [2]string{c, r.namespace}
		if other, ok := taken[k]; ok {
			return fmt.Errorf("%w: environments %q and %q would both use namespace %q of cluster %q", ErrClusterMap, other, r.key, r.namespace, c)
		}
		taken[k] = r.key
	}
	return nil
}
