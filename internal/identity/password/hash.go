// Package password hashes and verifies user passwords with argon2id.
//
// Hashes are PHC strings ("$argon2id$v=19$m=65536,t=1,p=2$salt$hash") that
// carry their own parameters and a fresh random salt, so they can be
// verified after the defaults change and upgraded at the next login
// (NeedsRehash).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Hash checks pw against the policy (naming field in any error) and
// returns its argon2id PHC string with a fresh random salt.
func Hash(field, pw string, p Params) (string, error) {
	if err := CheckPolicy(field, pw); err != nil {
		return "", err
	}
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("password: %w", err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: random salt: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encoded{params: p, salt: salt, key: key}.String(), nil
}

// Verify reports whether pw matches the stored PHC string. The comparison
// of derived keys is constant-time. An error means the stored string is
// unreadable (ErrMalformedHash), never that the password is wrong.
func Verify(pw, stored string) (bool, error) {
	e, err := parse(stored)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey([]byte(pw), e.salt, e.params.Time, e.params.Memory, e.params.Threads, e.params.KeyLen)
	return subtle.ConstantTimeCompare(key, e.key) == 1, nil
}

// NeedsRehash reports whether stored was made with parameters other than
// p (weaker or just different), or cannot be read at all. Call it after a
// successful Verify and store Hash(pw, p) when it says true: that is the
// only moment the plain password is at hand.
func NeedsRehash(stored string, p Params) bool {
	e, err := parse(stored)
	if err != nil {
		return true
	}
	return e.params != p
}

// DummyVerify spends the time of one Verify with p and always fails. Call it
// when the account does not exist, so a login's timing does not reveal
// which accounts do.
func DummyVerify(pw string, p Params) {
	salt := make([]byte, p.SaltLen)
	argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}
