package artifact

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// TokenHeader carries a step agent's token when it sends an archive.
const TokenHeader = "X-Berth-Step-Token"

// HashToken is what a run's step stores of its upload token (the step
// agent's credential): the store never holds the token itself.
func HashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// TokenMatches reports, in constant time, whether tok hashes to hash; an
// empty token or hash never matches.
func TokenMatches(hash, tok string) bool {
	if hash == "" || tok == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hash), []byte(HashToken(tok))) == 1
}
