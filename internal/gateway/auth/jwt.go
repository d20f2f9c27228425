package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
const DefaultLeeway = 30 * time.Second

// maxTokenLen bounds the work an oversized Authorization header can cause.
const maxTokenLen = 16 << 10

// allowedAlgs is the allow-list handed to the parser, which refuses any
// other "alg" before a key is looked at: never "none", never HS* (a public
// key must not be usable as an HMAC secret).
var allowedAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// jwtVerifier checks bearer tokens against one issuer.
type jwtVerifier struct {
	issuer    string
	audiences jwt.Audience
	leeway    time.Duration
	keys      *keySet
	cache     *tokenCache // nil: off
}

// bearerToken returns the token of an "Authorization: Bearer" header.
func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return "", false
	}
	return strings.TrimSpace(h[7:]), true
}

func (v *jwtVerifier) verify(ctx context.Context, raw string) (Identity, *rejection) {
	if raw == "" || len(raw) > maxTokenLen {
		return Identity{}, reject("malformed token", true, nil)
	}
	now := time.Now()
	if id, ok := v.cache.get(raw, v.keys.keys.Load(), now, v.leeway); ok {
		return id, nil
	}
	tok, err := jwt.ParseSigned(raw, allowedAlgs)
	if err != nil {
		if _, ok := errors.AsType[*jose.ErrUnexpectedSignatureAlgorithm](err); ok {
			return Identity{}, reject("signing algorithm not allowed", true, err)
		}
		return Identity{}, reject("malformed token", true, err)
	}
	if len(tok.Headers) != 1 {
		return Identity{}, reject("malformed token", true, nil)
	}
	hdr := tok.Headers[0]
	keys, set, err := v.keys.find(ctx, hdr.KeyID, jose.SignatureAlgorithm(hdr.Algorithm))
	if err != nil {
		if errors.Is(err, errKeysUnavailable) {
			return Identity{}, &rejection{status: http.StatusServiceUnavailable, desc: "issuer signing keys unavailable", bearer: false, cause: err}
		}
		return Identity{}, reject("unknown signing key", true, err)
	}
	var claims jwt.Claims
	verified := false
	for _, k := range keys {
		if err = tok.Claims(k.key, &claims); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Identity{}, reject("bad signature", true, err)
	}
	if claims.Expiry == nil {
		return Identity{}, reject("token has no expiry", true, nil)
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: v.issuer, AnyAudience: v.audiences, Time: now}, v.leeway)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrExpired):
		return Identity{}, reject("token expired", true, err)
	case errors.Is(err, jwt.ErrNotValidYet):
		return Identity{}, reject("token not valid yet", true, err)
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Identity{}, reject("token issued in the future", true, err)
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Identity{}, reject("issuer not accepted", true, err)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Identity{}, reject("audience not accepted", true, err)
	default:
		return Identity{}, reject("invalid claims", true, err)
	}
	if claims.Subject == "" {
		return Identity{}, reject("token has no subject", true, nil)
	}
	id := Identity{Subject: claims.Subject, Method: MethodJWT}
	// Cached against the set the key came from: once that set is replaced,
	// the token must verify again against the new one.
	entry := cachedToken{id: id, exp: claims.Expiry.Time(), keys: set}
	if claims.NotBefore != nil {
		entry.nbf = claims.NotBefore.Time()
	}
	v.cache.put(raw, entry)
	return id, nil
}
