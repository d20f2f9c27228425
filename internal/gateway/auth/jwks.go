package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key-fetch defaults.
const (
	// DefaultRefreshInterval re-reads the JWKS in the background, picking
	// up keys an issuer publishes ahead of rotating to them.
	DefaultRefreshInterval = 10 * time.Minute
	// DefaultMinRefreshInterval spaces refetches caused by tokens with an
	// unknown key ID, so that a flood of made-up kids costs the issuer at
	// most one request per interval.
	DefaultMinRefreshInterval = 10 * time.Second

	fetchTimeout = 10 * time.Second
	maxDocBytes  = 1 << 20
)

var (
	errKeysUnavailable = errors.New("issuer signing keys unavailable")
	errUnknownKey      = errors.New("unknown signing key")
)

// verifyKey is one usable public key from the JWKS.
type verifyKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any // *rsa.PublicKey or *ecdsa.PublicKey
}

// keySet holds an issuer's signing keys: fetched in the background, and
// refetched (at most every minRefresh) when a token names a key it lacks,
// which is how a key rotation shows up.
type keySet struct {
	client     *http.Client
	issuer     string
	jwksURL    string // configured; "" means discover it
	minRefresh time.Duration
	log        *slog.Logger
	life       context.Context // New's ctx: ends fetches and the refresh loop

	keys atomic.Pointer[[]verifyKey]

	mu       sync.Mutex
	inflight chan struct{} // closed when the fetch under way ends
	lastTry  time.Time
	lastErr  error
}

// run refreshes the keys now and every interval until life ends.
func (s *keySet) run(interval time.Duration) {
	_ = s.refresh(s.life, true)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.life.Done():
			return
		case <-t.C:
			_ = s.refresh(s.life, true)
		}
	}
}

// find returns the keys that may have signed a token with this kid and
// alg, and the key set they come from.
func (s *keySet) find(ctx context.Context, kid string, alg jose.SignatureAlgorithm) ([]verifyKey, *[]verifyKey, error) {
	set := s.keys.Load()
	if ks := match(set, kid, alg); len(ks) > 0 {
		return ks, set, nil
	}
	err := s.refresh(ctx, false)
	set = s.keys.Load()
	if ks := match(set, kid, alg); len(ks) > 0 {
		return ks, set, nil
	}
	if set == nil {
		return nil, nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
	}
	return nil, nil, errUnknownKey
}

func match(keys *[]verifyKey, kid string, alg jose.SignatureAlgorithm) []verifyKey {
	if keys == nil {
		return nil
	}
	var out []verifyKey
	for _, k := range *keys {
		if k.alg == alg && (kid == "" || k.kid == kid) {
			out = append(out, k)
		}
	}
	return out
}

// refresh fetches the keys unless a fetch is under way (then it waits for
// that one) or, unless forced, one was tried less than minRefresh ago.
func (s *keySet) refresh(ctx context.Context, force bool) error {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		if !force && time.Since(s.lastTry) < s.minRefresh {
			err := s.lastErr
			s.mu.Unlock()
			return err
		}
		ch = make(chan struct{})
		s.inflight = ch
		s.lastTry = time.Now()
		// The fetch runs on its own so that a request giving up does not
		// abort it for the others waiting; life and fetchTimeout bound it.
		go s.fetchAndStore(ch)
	}
	s.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

func (s *keySet) fetchAndStore(done chan struct{}) {
	ctx, cancel := context.WithTimeout(s.life, fetchTimeout)
	defer cancel()
	keys, err := s.fetch(ctx)
	if err == nil {
		// Swap only on a change: the token cache holds while the set does.
		if old := s.keys.Load(); old == nil || !sameKeys(*old, keys) {
			s.keys.Store(&keys)
			s.log.Debug("auth: loaded signing keys", "issuer", s.issuer, "keys", len(keys))
		}
	} else {
		// Keep the keys we had: an issuer hiccup must not log everyone out.
		s.log.Warn("auth: fetching signing keys failed", "issuer", s.issuer, "err", err)
	}
	s.mu.Lock()
	s.lastErr = err
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *keySet) fetch(ctx context.Context) ([]verifyKey, error) {
	jwksURL := s.jwksURL
	if jwksURL == "" {
		u, err := s.discover(ctx)
		if err != nil {
			return nil, err
		}
		jwksURL = u
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := s.getJSON(ctx, jwksURL, &doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	var keys []verifyKey
	for _, raw := range doc.Keys {
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue // a key of a type we do not know must not hide the others
		}
		if k, ok := usable(jwk); ok {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks %s: no usable signing keys (RSA >= 2048 bits for RS256, P-256 for ES256)", jwksURL)
	}
	return keys, nil
}

func sameKeys(a, b []verifyKey) bool {
	if len(a) != len(b) {
		return false
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	for i := range a {
		ka, ok := a[i].key.(equaler)
		if !ok || a[i].kid != b[i].kid || a[i].alg != b[i].alg || !ka.Equal(b[i].key) {
			return false
		}
	}
	return true
}

// usable keeps public signing keys of the allowed algorithms only: no
// symmetric keys (so HS256 with a public key as the secret cannot arise),
// no encryption keys, no weak RSA.
func usable(k jose.JSONWebKey) (verifyKey, bool) {
	if !k.IsPublic() || (k.Use != "" && k.Use != "sig") {
		return verifyKey{}, false
	}
	var alg jose.SignatureAlgorithm
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return verifyKey{}, false
		}
		alg = jose.RS256
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return verifyKey{}, false
		}
		alg = jose.ES256
	default:
		return verifyKey{}, false
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return verifyKey{}, false
	}
	return verifyKey{kid: k.KeyID, alg: alg, key: k.Key}, true
}

// discover reads the issuer's OpenID discovery document for its jwks_uri.
func (s *keySet) discover(ctx context.Context) (string, error) {
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	u := strings.TrimSuffix(s.issuer, "/") + "/.well-known/openid-configuration"
	if err := s.getJSON(ctx, u, &doc); err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	// OpenID Connect Discovery 1.0 §4.3: the document must be the issuer's own.
	if doc.Issuer != s.issuer {
		return "", fmt.Errorf("discovery: document is for issuer %q, want %q", doc.Issuer, s.issuer)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery: jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

func (s *keySet) getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocBytes)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}
