package secretstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
)

// Rotate re-encrypts every secret in st, and every cluster's stored
// credentials, under the key to, in one transaction: afterwards every
// secret opens with to alone, its kept earlier versions too (a release
// still running with one needs it), and so does every kubeconfig. old
// must hold every key the secrets are sealed with (to may be among them:
// envelopes already sealed with it are left as they are, so an
// interrupted rotation is simply run again). Values stay the same, so
// versions do not change and no app is rolled. It returns how many
// secrets had an envelope (current or earlier version) re-encrypted, plus
// how many clusters had their credentials re-encrypted.
func Rotate(ctx context.Context, st store.Store, old *secrets.Keyring, to secrets.Key) (int, error) {
	n := 0
	err := st.InTx(ctx, func(tx store.Tx) error {
		rows, err := tx.ListSecrets(ctx, "")
		if err != nil {
			return err
		}
		vers, err := tx.ListSecretVersions(ctx, "")
		if err != nil {
			return err
		}
		teams := map[string]string{}
		teamOf := func(app string) (string, error) {
			if team, ok := teams[app]; ok {
				return team, nil
			}
			a, err := tx.GetApp(ctx, app)
			if err != nil {
				return "", fmt.Errorf("rotate: %w", err)
			}
			teams[app] = a.Team
			return a.Team, nil
		}
		creds, err := sealedClusters(ctx, tx)
		if err != nil {
			return err
		}
		// One batch: the current rows, the versions, then the clusters.
		items := make([]secrets.Sealed, 0, len(rows)+len(vers)+len(creds))
		for _, r := range rows {
			team, err := teamOf(r.App)
			if err != nil {
				return err
			}
			items = append(items, secrets.Sealed{Binding: Binding(team, r.App, r.Name), Envelope: r.Envelope})
		}
		for _, v := range vers {
			team, err := teamOf(v.App)
			if err != nil {
				return err
			}
			items = append(items, secrets.Sealed{Binding: Binding(team, v.App, v.Name), Envelope: v.Envelope})
		}
		for _, c := range creds {
			items = append(items, secrets.Sealed{Binding: ClusterBinding(c.name), Envelope: c.envelope})
		}
		out, err := secrets.Rotate(old, to, items)
		if err != nil {
			return err
		}
		changed := map[[2]string]bool{}
		for i, r := range rows {
			if out[i].Envelope == r.Envelope {
				continue
			}
			r.Envelope, r.KeyID = out[i].Envelope, to.ID()
			if err := tx.RekeySecret(ctx, r); err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			changed[[2]string{r.App, r.Name}] = true
		}
		for i, v := range vers {
			e := out[len(rows)+i].Envelope
			if e == v.Envelope {
				continue
			}
			v.Envelope, v.KeyID = e, to.ID()
			if err := tx.RekeySecretVersion(ctx, v); err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			changed[[2]string{v.App, v.Name}] = true
		}
		n = len(changed)
		for i, c := range creds {
			e := out[len(rows)+len(vers)+i].Envelope
			if e == c.envelope {
				continue
			}
			if err := tx.SetClusterCredentials(ctx, c.name, []byte(e)); err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

type clusterCreds struct{ name, envelope string }

// sealedClusters lists the clusters with stored credentials. One still
// in clear stops the rotation with what to do: the server seals those at
// start, rotation only re-encrypts envelopes.
func sealedClusters(ctx context.Context, tx store.Tx) ([]clusterCreds, error) {
	cs, err := tx.ListClusters(ctx)
	if err != nil {
		return nil, err
	}
	var out []clusterCreds
	for _, c := range cs {
		b, err := tx.ClusterCredentials(ctx, c.Name)
		if err != nil {
			return nil, fmt.Errorf("rotate: %w", err)
		}
		if len(b) == 0 {
			continue
		}
		if !sealed(b) {
			return nil, fmt.Errorf("rotate: credentials of cluster %q are stored unencrypted; start the server once to seal them", c.Name)
		}
		out = append(out, clusterCreds{name: c.Name, envelope: string(b)})
	}
	return out, nil
}
