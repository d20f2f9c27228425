package secretstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
)

// Rotate re-encrypts every secret in st under the key to, in one
// transaction: afterwards every secret opens with to alone, its kept
// earlier versions too (a release still running with one needs it). old
// must hold every key the secrets are sealed with (to may be among them:
// envelopes already sealed with it are left as they are, so an
// interrupted rotation is simply run again). Values stay the same, so
// versions do not change and no app is rolled. It returns how many
// secrets had an envelope (current or earlier version) re-encrypted.
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
		// One batch: the current rows, then the versions.
		items := make([]secrets.Sealed, 0, len(rows)+len(vers))
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
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
