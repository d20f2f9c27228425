package backup

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/kubecluster"
	"github.com/berthdev/berth/internal/secretstore"
	"github.com/berthdev/berth/internal/store/sqlstore"
)

// NewCluster is a cluster the restore registers itself (--add-cluster),
// so that references can be mapped onto a cluster the backup does not
// know: the way onto new clusters when the old platform is gone.
type NewCluster struct {
	Name string
	// Kubeconfig is the file's text; Context picks its context ("" the
	// current one). Only that context's cluster and user are kept, and
	// they are sealed with the restore's master key.
	Kubeconfig []byte
	Context    string
}

var clusterNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// addedCluster is a NewCluster ready to insert.
type addedCluster struct {
	name, server, context string
	sealed                []byte
}

// prepareClusters checks and seals the clusters to add. They are not
// reached from here: the restored server checks them at start.
func prepareClusters(cs []NewCluster, ring *secrets.Keyring, in *inspector) ([]addedCluster, error) {
	var out []addedCluster
	for _, c := range cs {
		switch {
		case !clusterNameRE.MatchString(c.Name):
			return nil, fmt.Errorf("%w: --add-cluster %q: not a cluster name (lower-case letters, digits and '-', 1 to 63 characters)", ErrClusterMap, c.Name)
		case in.clusters[c.Name]:
			return nil, fmt.Errorf("%w: --add-cluster %s: the backup registers a cluster of that name already", ErrClusterMap, c.Name)
		case ring == nil:
			return nil, fmt.Errorf("%w: --add-cluster %s: its credentials are sealed with the master key, and none was given (--master-key-file FILE or %s)",
				ErrMasterKey, c.Name, secrets.EnvMasterKey)
		}
		creds, server, err := kubecluster.Minimal(c.Kubeconfig, c.Context)
		if err != nil {
			return nil, fmt.Errorf("%w: --add-cluster %s: %w", ErrClusterMap, c.Name, err)
		}
		env, err := ring.Seal(secretstore.ClusterBinding(c.Name), creds)
		clear(creds)
		if err != nil {
			return nil, fmt.Errorf("--add-cluster %s: seal credentials: %w", c.Name, err)
		}
		in.clusters[c.Name] = true
		out = append(out, addedCluster{name: c.Name, server: server, context: c.Context, sealed: []byte(env)})
	}
	return out, nil
}

// insertClusters writes the added clusters once the backup's tables are
// in.
func (l *loader) insertClusters(ctx context.Context) error {
	if len(l.addClusters) == 0 {
		return nil
	}
	if _, ok := l.target[clusterTable]; !ok {
		return fmt.Errorf("%w: --add-cluster: the backup's schema predates clusters", ErrClusterMap)
	}
	now := sqlstore.FormatTime(time.Now())
	for _, c := range l.addClusters {
		if err := l.w.Insert(ctx, clusterTable, []string{"name", "server", "context", "in_cluster", "created_at"},
			[]any{c.name, c.server, c.context, int64(0), now}); err != nil {
			return err
		}
		if err := l.w.Insert(ctx, "cluster_credentials", []string{"cluster", "kubeconfig"}, []any{c.name, c.sealed}); err != nil {
			return err
		}
	}
	return nil
}
