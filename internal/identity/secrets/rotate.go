package secrets

import "fmt"

// Sealed is one stored secret: its row and its envelope.
type Sealed struct {
	Binding  Binding
	Envelope string
}

// Rotate re-encrypts every item under to: it opens each with old (which
// must hold every key the items were sealed with) and seals it again with
// to and a fresh nonce. Items already sealed with to are kept as they are,
// so a rotation cut short can simply be run again. It changes nothing on
// error: the result is all items or none, to be written in one
// transaction, after which the old key may be retired.
func Rotate(old *Keyring, to Key, items []Sealed) ([]Sealed, error) {
	next, err := NewKeyring(to)
	if err != nil {
		return nil, err
	}
	out := make([]Sealed, len(items))
	for i, it := range items {
		id, err := KeyID(it.Envelope)
		if err != nil {
			return nil, fmt.Errorf("secrets: rotate item %d (%s/%s/%s): %w", i, it.Binding.Team, it.Binding.Object, it.Binding.Name, err)
		}
		if id == to.ID() {
			out[i] = it
			continue
		}
		pt, err := old.Open(it.Binding, it.Envelope)
		if err != nil {
			return nil, fmt.Errorf("secrets: rotate item %d: %w", i, err)
		}
		env, err := next.Seal(it.Binding, pt)
		clear(pt)
		if err != nil {
			return nil, fmt.Errorf("secrets: rotate item %d: %w", i, err)
		}
		out[i] = Sealed{Binding: it.Binding, Envelope: env}
	}
	return out, nil
}

// NeedsRotation reports whether envelope was sealed with a key other than
// the ring's primary (or cannot be read at all).
func (r *Keyring) NeedsRotation(envelope string) bool {
	id, err := KeyID(envelope)
	return err != nil || id != r.primary
}
