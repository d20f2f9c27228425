package auth

import (
	"sync"
	"time"
)

// DefaultTokenCacheSize is how many verified tokens a route remembers.
const DefaultTokenCacheSize = 4096

// maxCachedTokenLen keeps the cache's memory bounded (4096 x 4 KiB at
// most); longer tokens are verified every time.
const maxCachedTokenLen = 4096

// tokenCache remembers tokens that verified, so that a client sending the
// same token again costs a map lookup instead of an RSA or ECDSA check
// (tens of microseconds). It is keyed by the whole token, so a hit is the
// very same bytes that verified; the time claims are checked again on
// every hit; and an entry holds only while the key set it verified against
// is current, so a key the issuer withdraws stops its tokens at once.
// Failures are not cached.
type tokenCache struct {
	max int
	mu  sync.RWMutex
	m   map[string]cachedToken
}

type cachedToken struct {
	id       Identity
	nbf, exp time.Time // zero nbf: none
	keys     *[]verifyKey
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{max: size, m: make(map[string]cachedToken, min(size, 1024))}
}

// get returns the identity of a token verified before against keys, if it
// is still within its time claims at now.
func (c *tokenCache) get(tok string, keys *[]verifyKey, now time.Time, leeway time.Duration) (Identity, bool) {
	if c == nil || len(tok) > maxCachedTokenLen {
		return Identity{}, false
	}
	c.mu.RLock()
	e, ok := c.m[tok]
	c.mu.RUnlock()
	if !ok || e.keys != keys || now.Add(-leeway).After(e.exp) || (!e.nbf.IsZero() && now.Add(leeway).Before(e.nbf)) {
		return Identity{}, false
	}
	return e.id, true
}

func (c *tokenCache) put(tok string, e cachedToken) {
	if c == nil || len(tok) > maxCachedTokenLen {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m { // an arbitrary entry: map order is random
			delete(c.m, k)
			break
		}
	}
	c.m[tok] = e
}
