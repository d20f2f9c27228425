package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"

	"github.com/berthdev/berth/internal/gateway"
)

// maxAPIKeyLen bounds the work an oversized header can cause.
const maxAPIKeyLen = 4096

// apiKeys looks up presented keys by their SHA-256 digest, so the config
// never holds a key itself.
type apiKeys struct {
	name   string // as configured, for the challenge
	header string // canonical, for the lookup
	byHash map[[32]byte]apiKeyEntry
}

type apiKeyEntry struct {
	digest  [32]byte
	subject string
}

func newAPIKeys(cfg *gateway.APIKeys) *apiKeys {
	name := cfg.Header
	if name == "" {
		name = DefaultAPIKeyHeader
	}
	k := &apiKeys{name: name, header: http.CanonicalHeaderKey(name), byHash: make(map[[32]byte]apiKeyEntry, len(cfg.Keys))}
	for hexDigest, subject := range cfg.Keys {
		d, _ := decodeDigest(hexDigest) // validated before
		k.byHash[d] = apiKeyEntry{digest: d, subject: subject}
	}
	return k
}

// present reports whether the request carries the key header at all.
func (k *apiKeys) present(r *http.Request) bool {
	_, ok := r.Header[k.header]
	return ok
}

// verify maps the presented key to its subject. The lookup is by digest:
// an attacker cannot steer a SHA-256 digest, so the map's timing reveals
// nothing about stored keys; the constant-time compare of the digests then
// makes the match itself independent of how many bytes agree.
func (k *apiKeys) verify(r *http.Request) (Identity, *rejection) {
	key := r.Header.Get(k.header)
	if key == "" || len(key) > maxAPIKeyLen {
		return Identity{}, reject("invalid API key", false, nil)
	}
	sum := sha256.Sum256([]byte(key))
	e, ok := k.byHash[sum]
	if !ok || subtle.ConstantTimeCompare(sum[:], e.digest[:]) != 1 {
		return Identity{}, reject("invalid API key", false, nil)
	}
	return Identity{Subject: e.subject, Method: MethodAPIKey}, nil
}
