package secretstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
)

// ClusterBinding is the row a cluster's kubeconfig is sealed for. A
// cluster belongs to the platform, not to a team: its team is "-", the
// same stand-in apps without a team use ("-" is not a valid team ID, so
// no team's row can ever share the binding).
func ClusterBinding(cluster string) secrets.Binding {
	return secrets.Binding{Team: noTeam, Object: "cluster/" + cluster, Name: "kubeconfig"}
}

// CreateCluster stores c with its kubeconfig sealed under the primary
// key, so the store never holds the credentials in clear. Errors are the
// store's (ErrExists, ErrInvalid), wrapped.
func (s *Store) CreateCluster(ctx context.Context, c store.Cluster, kubeconfig []byte) error {
	var sealed []byte
	if len(kubeconfig) > 0 {
		env, err := s.ring.Seal(ClusterBinding(c.Name), kubeconfig)
		if err != nil {
			return fmt.Errorf("cluster %q: seal credentials: %w", c.Name, err)
		}
		sealed = []byte(env)
	}
	return s.st.CreateCluster(ctx, c, sealed)
}

// ClusterCredentials returns the kubeconfig of the cluster name, opened;
// nil for an in-cluster one. A row that does not open (another cluster's
// ciphertext, a lost key) is an error naming the cluster.
func (s *Store) ClusterCredentials(ctx context.Context, name string) ([]byte, error) {
	b, err := s.st.ClusterCredentials(ctx, name)
	if err != nil || len(b) == 0 {
		return nil, err
	}
	if !sealed(b) {
		return nil, fmt.Errorf("credentials of cluster %q are stored unencrypted; restart the server to seal them", name)
	}
	pt, err := s.ring.Open(ClusterBinding(name), string(b))
	if err != nil {
		return nil, fmt.Errorf("credentials of cluster %q: %w", name, err)
	}
	return pt, nil
}

// SealPlaintextClusters seals, in one transaction, every cluster's
// credentials still stored in clear (written before they were
// encrypted). The server runs it at start; it returns how many it sealed.
func (s *Store) SealPlaintextClusters(ctx context.Context) (int, error) {
	n := 0
	err := s.st.InTx(ctx, func(tx store.Tx) error {
		n = 0
		cs, err := tx.ListClusters(ctx)
		if err != nil {
			return err
		}
		for _, c := range cs {
			b, err := tx.ClusterCredentials(ctx, c.Name)
			if err != nil {
				return err
			}
			if len(b) == 0 || sealed(b) {
				continue
			}
			env, err := s.ring.Seal(ClusterBinding(c.Name), b)
			clear(b)
			if err != nil {
				return fmt.Errorf("cluster %q: seal credentials: %w", c.Name, err)
			}
			if err := tx.SetClusterCredentials(ctx, c.Name, []byte(env)); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("seal cluster credentials: %w", err)
	}
	return n, nil
}

// sealed tells an envelope from a kubeconfig stored in clear: a
// kubeconfig (YAML or JSON) never parses as an envelope.
func sealed(b []byte) bool {
	_, err := secrets.KeyID(string(b))
	return err == nil
}
