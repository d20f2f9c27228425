package artifact

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// TokenHeader carries a step agent's token when it sends an archive.
const TokenHeader = "X-Berth-Step-Token"

// TokenEnv and CacheKeyEnv name what a step pod's Secret gives the step
// agent: its token, and the cache key the server expanded (for the
// agent's notes only; the server maps the token to the key). The kube
// executor writes them, the agent reads them.
const (
	TokenEnv    = "BERTH_STEP_TOKEN"
	CacheKeyEnv = "BERTH_CACHE_KEY"
)

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
