package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// Keyring holds the primary key, which seals, and older keys, which only
// open: the state during a rotation.
type Keyring struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// NewKeyring makes a keyring that seals with primary and opens envelopes
// of primary or any of older.
func NewKeyring(primary Key, older ...Key) (*Keyring, error) {
	r := &Keyring{primary: primary.ID(), aeads: map[string]cipher.AEAD{}}
	for _, k := range append([]Key{primary}, older...) {
		if k.id == "" {
			return nil, fmt.Errorf("secrets: %w: zero Key (use ParseKey, LoadMasterKey or GenerateKey)", ErrKey)
		}
		block, err := aes.NewCipher(k.b[:])
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		// The standard 96-bit nonce; random nonces are safe for about 2^32
		// seals per key, far beyond any secret store's writes (and
		// rotation resets the count).
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secrets: %w", err)
		}
		r.aeads[k.ID()] = aead
	}
	return r, nil
}

// PrimaryID is the ID of the key new envelopes are sealed with.
func (r *Keyring) PrimaryID() string { return r.primary }
