package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// Binding is the row a secret belongs to. It is authenticated with the
// ciphertext, so an envelope copied to another team's, object's or name's
// row does not decrypt there.
type Binding struct {
	Team   string // team ID
	Object string // the app, config set or environment the secret is in
	Name   string // the secret's name, e.g. DB_PASSWORD
}

func (b Binding) validate() error {
	switch {
	case b.Team == "":
		return fmt.Errorf("binding.team: %w: required", ErrInvalid)
	case b.Object == "":
		return fmt.Errorf("binding.object: %w: required", ErrInvalid)
	case b.Name == "":
		return fmt.Errorf("binding.name: %w: required", ErrInvalid)
	}
	return nil
}

// Envelopes are text: "bsec1:" key ID ":" base64url(nonce || ciphertext).
// Text fits a TEXT column in either store and reads clearly in a dump.
const envelopePrefix = "bsec1"

var b64 = base64.RawURLEncoding

// additionalData encodes the version, key ID and binding, each length-
// prefixed so that ("ab","c") and ("a","bc") differ.
func additionalData(keyID string, b Binding) []byte {
	var out []byte
	for _, s := range []string{envelopePrefix, keyID, b.Team, b.Object, b.Name} {
		out = binary.BigEndian.AppendUint32(out, uint32(len(s)))
		out = append(out, s...)
	}
	return out
}

// Seal encrypts plaintext for b with the primary key and a fresh random
// nonce, returning the envelope to store.
func (r *Keyring) Seal(b Binding, plaintext []byte) (string, error) {
	if err := b.validate(); err != nil {
		return "", err
	}
	aead := r.aeads[r.primary]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secrets: random nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, plaintext, additionalData(r.primary, b))
	return envelopePrefix + ":" + r.primary + ":" + b64.EncodeToString(sealed), nil
}

// Open decrypts an envelope stored for b. It fails with ErrUnknownKey when
// the envelope's key is not in the ring, ErrDecrypt when the envelope was
// changed or belongs to another binding, ErrMalformed when it cannot be
// parsed.
func (r *Keyring) Open(b Binding, envelope string) ([]byte, error) {
	if err := b.validate(); err != nil {
		return nil, err
	}
	keyID, sealed, err := parseEnvelope(envelope)
	if err != nil {
		return nil, err
	}
	aead, ok := r.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("secrets: %w: key %s (loaded: %s)", ErrUnknownKey, keyID, r.loaded())
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("secrets: %w: %d bytes is shorter than nonce and tag", ErrMalformed, len(sealed))
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, additionalData(keyID, b))
	if err != nil {
		// Deliberately vague: GCM cannot tell tampering from a wrong row.
		return nil, fmt.Errorf("secrets: %w: %s/%s/%s (changed, or sealed for another row)", ErrDecrypt, b.Team, b.Object, b.Name)
	}
	return pt, nil
}

// KeyID returns the ID of the key an envelope was sealed with.
func KeyID(envelope string) (string, error) {
	id, _, err := parseEnvelope(envelope)
	return id, err
}

func parseEnvelope(s string) (string, []byte, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] != envelopePrefix {
		return "", nil, fmt.Errorf("secrets: %w: want %s:<key id>:<data>", ErrMalformed, envelopePrefix)
	}
	if len(parts[1]) != 16 {
		return "", nil, fmt.Errorf("secrets: %w: key id %q is not 16 hex characters", ErrMalformed, parts[1])
	}
	sealed, err := b64.DecodeString(parts[2])
	if err != nil {
		return "", nil, fmt.Errorf("secrets: %w: data: %w", ErrMalformed, err)
	}
	return parts[1], sealed, nil
}

func (r *Keyring) loaded() string {
	ids := make([]string, 0, len(r.aeads))
	ids = append(ids, r.primary+" (primary)")
	for id := range r.aeads {
		if id != r.primary {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ", ")
}
