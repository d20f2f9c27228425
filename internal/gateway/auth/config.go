package auth

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/berthdev/berth/internal/gateway"
)

// DefaultAPIKeyHeader carries the API key when APIKeys.Header is empty.
const DefaultAPIKeyHeader = "X-API-Key"

func validate(p gateway.AuthPolicy) error {
	if p.JWT == nil && p.APIKeys == nil {
		return &fieldError{"jwt", "set jwt or api_keys (or both)"}
	}
	if j := p.JWT; j != nil {
		if err := checkFetchURL(j.Issuer); err != nil {
			return &fieldError{"jwt.issuer", err.Error()}
		}
		if j.JWKSURL != "" {
			if err := checkFetchURL(j.JWKSURL); err != nil {
				return &fieldError{"jwt.jwks_url", err.Error()}
			}
		}
		// Without an audience check, a token the issuer minted for any
		// other client would be accepted here.
		if len(j.Audiences) == 0 {
			return &fieldError{"jwt.audiences", "at least one audience is required (the client ID tokens are minted for)"}
		}
		for i, a := range j.Audiences {
			if strings.TrimSpace(a) == "" {
				return &fieldError{fmt.Sprintf("jwt.audiences[%d]", i), "is empty"}
			}
		}
	}
	if k := p.APIKeys; k != nil {
		if k.Header != "" && !validHeaderName(k.Header) {
			return &fieldError{"api_keys.header", fmt.Sprintf("%q is not a valid header name", k.Header)}
		}
		if http.CanonicalHeaderKey(k.Header) == "Authorization" {
			return &fieldError{"api_keys.header", "must not be Authorization (bearer tokens use it)"}
		}
		if len(k.Keys) == 0 {
			return &fieldError{"api_keys.keys", "at least one key is required"}
		}
		for digest, subject := range k.Keys {
			// Never echo the entry: an operator who pasted a raw key
			// instead of its digest would find it in the logs.
			if _, err := decodeDigest(digest); err != nil {
				return &fieldError{"api_keys.keys", fmt.Sprintf("an entry (%d characters) is not a SHA-256 hex digest (64 hex characters; store sha256(key), not the key)", len(digest))}
			}
			if strings.TrimSpace(subject) == "" {
				return &fieldError{"api_keys.keys", "an entry maps to an empty subject"}
			}
		}
	}
	return nil
}

func decodeDigest(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 64 {
		return d, fmt.Errorf("length %d, want 64", len(s))
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err
}

// checkFetchURL accepts the URLs keys may be fetched from: https, or plain
// http only to a loopback host (a local provider in development). Keys
// fetched over plain http across a network could be swapped by anyone on
// the path, which would let them mint tokens.
func checkFetchURL(raw string) error {
	if raw == "" {
		return fmt.Errorf("is required (an https URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q is not an absolute URL without query or fragment", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("%q must use https (plain http only for a loopback host)", raw)
	default:
		return fmt.Errorf("%q must be an https URL", raw)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
