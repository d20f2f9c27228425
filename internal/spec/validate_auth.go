package spec

import (
	"encoding/hex"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// maxSubjectLen bounds a subject, which travels to the service in a header.
const maxSubjectLen = 256

// auth checks a route's auth with the gateway's own rules (see
// internal/gateway/auth), so that a spec that passes here never makes the
// gateway refuse the route table.
func (v *validator) auth(p string, a *RouteAuth) {
	if a.JWT == nil && a.APIKeys == nil {
		if !v.decodeFailedBelow(p) {
			v.add(p, "set jwt or api_keys (or both)")
		}
		return
	}
	if j := a.JWT; j != nil {
		jp := join(p, "jwt")
		if msg := fetchURLProblem(j.Issuer); msg != "" {
			v.add(join(jp, "issuer"), "%s", msg)
		}
		if j.JWKSURL != "" {
			if msg := fetchURLProblem(j.JWKSURL); msg != "" {
				v.add(join(jp, "jwks_url"), "%s", msg)
			}
		}
		// Without an audience check, a token the issuer minted for any
		// other client would be accepted.
		if len(j.Audiences) == 0 {
			v.add(join(jp, "audiences"), "at least one audience is required (the client ID the tokens are minted for)")
		}
		for i, aud := range j.Audiences {
			if strings.TrimSpace(aud) == "" {
				v.add(index(join(jp, "audiences"), i), "must not be empty")
			}
		}
	}
	if k := a.APIKeys; k != nil {
		v.apiKeys(join(p, "api_keys"), k)
	}
}

func (v *validator) apiKeys(p string, k *APIKeyAuth) {
	switch {
	case !isToken(k.Header):
		v.add(join(p, "header"), "%s is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", quoteShort(k.Header))
	case http.CanonicalHeaderKey(k.Header) == "Authorization":
		v.add(join(p, "header"), "must not be Authorization (bearer tokens use it); the default is %s", DefaultAPIKeyHeader)
	case strings.HasPrefix(http.CanonicalHeaderKey(k.Header), "X-Berth-"):
		// The gateway removes client-sent X-Berth-* identity headers
		// before it looks for the key.
		v.add(join(p, "header"), "%s is reserved for the gateway (X-Berth-*)", quoteShort(k.Header))
	}
	kp := join(p, "keys")
	if len(k.Keys) == 0 {
		if !v.decodeFailedBelow(kp) {
			v.add(kp, "at least one key is required: its SHA-256 digest (64 hex characters) mapped to the subject it stands for")
		}
		return
	}
	seen := map[string]bool{}
	for _, digest := range sortedKeys(k.Keys) {
		// The path of an entry would be the entry itself: a key pasted
		// instead of its digest must not be echoed, so problems with the
		// digest are reported on keys, at the entry's line.
		entry := join(kp, digest)
		lower := strings.ToLower(digest)
		switch {
		case !isSHA256Hex(digest):
			v.addNear(kp, entry, "an entry of %d characters is not a SHA-256 digest: write sha256(key) as 64 hex characters "+
				"(printf %%s \"$KEY\" | sha256sum), never the key itself", len(digest))
			continue
		case seen[lower]:
			v.addNear(kp, entry, "a digest is listed twice (in different letter case)")
		}
		seen[lower] = true
		switch subject := k.Keys[digest]; {
		case strings.TrimSpace(subject) == "":
			v.add(entry, "the subject must not be empty")
		case len(subject) > maxSubjectLen:
			v.add(entry, "the subject is longer than %d characters", maxSubjectLen)
		case strings.ContainsFunc(subject, func(c rune) bool { return c < ' ' || c == 0x7f }):
			v.add(entry, "the subject must not contain control characters (it is sent in a header)")
		}
	}
}

// addNear adds a problem at path p with the YAML line of near (a path
// below p that must not appear in the message).
func (v *validator) addNear(p, near, format string, args ...any) {
	if v.dec == nil || v.dec.isFailed(near) {
		v.add(p, format, args...)
		return
	}
	n := len(v.problems)
	v.add(p, format, args...)
	if len(v.problems) > n {
		v.problems[n].Line = v.dec.lineOf(near)
	}
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// fetchURLProblem checks a URL keys are fetched from: https, or plain http
// only to a loopback host (a local provider in development). Keys fetched
// over plain http across a network could be swapped by anyone on the path,
// who could then mint tokens.
func fetchURLProblem(raw string) string {
	if raw == "" {
		return "is required (an https URL)"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return quoteShort(raw) + " is not an absolute URL without user, query or fragment"
	}
	switch u.Scheme {
	case "https":
		return ""
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return ""
		}
		return quoteShort(raw) + " must use https (plain http only for a loopback host)"
	default:
		return quoteShort(raw) + " must be an https URL"
	}
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
