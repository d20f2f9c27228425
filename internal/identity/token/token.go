// Package token makes and checks Berth API tokens.
//
// A token is a prefix naming its kind (berth_pat_ or berth_tt_), 32 random
// bytes in lower-case base32, and a CRC-32 checksum: 69 characters (68 for a team token).
// The server keeps only the token's sha256 (to find and check it) and its
// last four characters (to show it in lists); the token itself is shown
// once, at creation.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// Stored is what the server keeps of a token.
type Stored struct {
	Kind  Kind
	Hash  string // hex sha256 of the whole token: the lookup key
	Last4 string // the token's last four characters, for display
	Scope rbac.Scope
	// ExpiresAt is when the token stops working; zero means never.
	ExpiresAt time.Time
}

// New makes a token of kind with scope, expiring ttl after now (ttl 0:
// never). It returns the token, to show the user once, and what to store.
func New(kind Kind, scope rbac.Scope, now time.Time, ttl time.Duration) (string, Stored, error) {
	if kind.Prefix() == "" {
		return "", Stored{}, fmt.Errorf("kind: %w kind %q: want %q or %q", ErrInvalid, kind, KindPersonal, KindTeam)
	}
	if !scope.Valid() {
		return "", Stored{}, fmt.Errorf("scope: %w scope %q: want one of %v", ErrInvalid, scope, rbac.AllScopes())
	}
	if ttl < 0 {
		return "", Stored{}, fmt.Errorf("ttl: %w: must not be negative, got %v", ErrInvalid, ttl)
	}
	b := make([]byte, randomBytes)
	if _, err := rand.Read(b); err != nil {
		return "", Stored{}, fmt.Errorf("token: random bytes: %w", err)
	}
	body := kind.Prefix() + enc.EncodeToString(b)
	tok := body + checksum(body)
	st := Stored{Kind: kind, Hash: Hash(tok), Last4: tok[len(tok)-4:], Scope: scope}
	if ttl > 0 {
		st.ExpiresAt = now.Add(ttl)
	}
	return tok, st, nil
}

// Hash is the hex sha256 of a token, the key it is stored and looked up
// under. A plain hash suffices (no salt, no slow KDF): the token has 256
// random bits, so there is nothing to guess.
func Hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Verify reports whether presented is a well-formed token of stored's kind
// whose hash equals stored.Hash. The hash comparison is constant-time, so
// a caller that fetched stored by some other key (an ID) leaks nothing
// through timing. It does not look at expiry: use Check for that.
func Verify(presented string, stored Stored) bool {
	kind, err := Parse(presented)
	if err != nil || kind != stored.Kind {
		return false
	}
	want, err := hex.DecodeString(stored.Hash)
	if err != nil || len(want) != sha256.Size {
		return false
	}
	got := sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(got[:], want) == 1
}

// Check is Verify plus expiry: ErrMalformed (presented is no token; its
// reason attached), ErrMismatch, or ErrExpired at now.
func Check(presented string, stored Stored, now time.Time) error {
	if _, err := Parse(presented); err != nil {
		return err
	}
	if !Verify(presented, stored) {
		return ErrMismatch
	}
	if stored.Expired(now) {
		return fmt.Errorf("%w at %s", ErrExpired, stored.ExpiresAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// Expired reports whether the token no longer works at now.
func (s Stored) Expired(now time.Time) bool {
	return !s.ExpiresAt.IsZero() && !now.Before(s.ExpiresAt)
}

// Display is how lists show the token: its prefix and last four
// characters, e.g. "berth_pat_…x7ka".
func (s Stored) Display() string {
	return s.Kind.Prefix() + "…" + s.Last4
}
