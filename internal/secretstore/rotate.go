package secretstore

import (
	"context"
	"fmt"

	"github.com/berthdev/berth/internal/identity/secrets"
	"github.com/berthdev/berth/internal/store"
)

// Rotate re-encrypts every secret in st under the key to, in one
// transaction: afterwards every secret opens with to alone. old must hold
// every key the secrets are sealed with (to may be among them: rows
// already sealed with it are left as they are, so an interrupted
// rotation is simply run again). Values stay the same, so versions do
// not change and no app is rolled. It returns how many secrets were
// re-encrypted.
func Rotate(ctx context.Context, st store.Store, old *secrets.Keyring, to secrets.Key) (int, error) {
	n := 0
	err := st.InTx(ctx, func(tx store.Tx) error {
		n = 0
		rows, err := tx.ListSecrets(ctx, "")
		if err != nil {
			return err
		}
		apps := map[string]string{}
		items := make([]secrets.Sealed, len(rows))
		for i, r := range rows {
			team, ok := apps[r.App]
			if !ok {
				a, err := tx.GetApp(ctx, r.App)
				if err != nil {
					return fmt.Errorf("rotate: %w", err)
				}
				team, apps[r.App] = a.Team, a.Team
			}
			items[i] = secrets.Sealed{Binding: Binding(team, r.App, r.Name), Envelope: r.Envelope}
		}
		out, err := secrets.Rotate(old, to, items)
		if err != nil {
			return err
		}
		for i, r := range rows {
			if out[i].Envelope == r.Envelope {
				continue
			}
			r.Envelope, r.KeyID = out[i].Envelope, to.ID()
			if err := tx.RekeySecret(ctx, r); err != nil {
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
