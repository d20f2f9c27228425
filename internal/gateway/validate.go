package gateway

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// validate checks every route of s; the error names the route ID and the
// field, so a provider's bug is easy to find.
func validate(s Snapshot) error {
	seen := make(map[string]bool, len(s.Routes))
	for i, r := range s.Routes {
		if r.ID == "" {
			return fmt.Errorf("%w: routes[%d].id: must not be empty", ErrInvalidSnapshot, i)
		}
		if seen[r.ID] {
			return fmt.Errorf("%w: route %q: id: used by more than one route", ErrInvalidSnapshot, r.ID)
		}
		seen[r.ID] = true
		if field, err := validateRoute(r); err != nil {
			return fmt.Errorf("%w: route %q: %s: %w", ErrInvalidSnapshot, r.ID, field, err)
		}
	}
	return nil
}

type fieldError string

func (e fieldError) Error() string { return string(e) }

func bad(format string, a ...any) error { return fieldError(fmt.Sprintf(format, a...)) }

func validateRoute(r Route) (string, error) {
	if err := validHost(r.Host); err != nil {
		return "host", err
	}
	if r.Path != "" && !strings.HasPrefix(r.Path, "/") {
		return "path", bad("must start with /, got %q", r.Path)
	}
	if strings.ContainsAny(r.Path, " ?#\r\n") {
		return "path", bad("must be a plain path without spaces, query or fragment, got %q", r.Path)
	}
	switch r.PathType {
	case "", PathPrefix, PathExact:
	default:
		return "path_type", bad("must be %q or %q, got %q", PathPrefix, PathExact, r.PathType)
	}
	for i, m := range r.Methods {
		if !validToken(m) {
			return fmt.Sprintf("methods[%d]", i), bad("must be an HTTP method name, got %q", m)
		}
	}
	for i, h := range r.Headers {
		if !validToken(h.Name) {
			return fmt.Sprintf("headers[%d].name", i), bad("must be a header name, got %q", h.Name)
		}
	}
	if len(r.Tracks) == 0 {
		return "tracks", bad("at least one track is required")
	}
	sum := 0
	names := map[string]bool{}
	for i, t := range r.Tracks {
		f := fmt.Sprintf("tracks[%d]", i)
		if t.Name == "" || !validToken(t.Name) {
			return f + ".name", bad("must be a name such as %q or %q, got %q", TrackStable, TrackCanary, t.Name)
		}
		if names[t.Name] {
			return f + ".name", bad("track %q appears twice", t.Name)
		}
		names[t.Name] = true
		if t.Weight < 0 || t.Weight > 100 {
			return f + ".weight", bad("must be between 0 and 100, got %d", t.Weight)
		}
		if t.Release < 0 {
			return f + ".release", bad("must not be negative, got %d", t.Release)
		}
		sum += t.Weight
		addrs := map[string]bool{}
		for j, e := range t.Endpoints {
			ef := fmt.Sprintf("%s.endpoints[%d].addr", f, j)
			if err := validAddr(e.Addr); err != nil {
				return ef, err
			}
			if addrs[e.Addr] {
				return ef, bad("%s appears twice", e.Addr)
			}
			addrs[e.Addr] = true
		}
	}
	if sum != 100 {
		return "tracks", bad("weights must sum to 100, got %d", sum)
	}
	return validatePolicy(r.Policy)
}

func validatePolicy(p Policy) (string, error) {
	if p.Timeout < 0 {
		return "policy.timeout", bad("must not be negative, got %s", p.Timeout)
	}
	if p.MaxBodyBytes < -1 {
		return "policy.max_body_bytes", bad("must be -1 (no limit), 0 (default) or positive, got %d", p.MaxBodyBytes)
	}
	switch p.LB {
	case "", LBRoundRobin, LBLeastRequest:
	default:
		return "policy.lb", bad("must be %q or %q, got %q", LBRoundRobin, LBLeastRequest, p.LB)
	}
	if rp := p.Retry; rp != nil {
		if rp.Attempts < 1 || rp.Attempts > 10 {
			return "policy.retry.attempts", bad("must be between 1 and 10, got %d", rp.Attempts)
		}
		if rp.PerTryTimeout < 0 {
			return "policy.retry.per_try_timeout", bad("must not be negative, got %s", rp.PerTryTimeout)
		}
		if rp.Budget < 0 || rp.Budget > 1 {
			return "policy.retry.budget", bad("must be between 0 and 1, got %g", rp.Budget)
		}
		for i, m := range rp.SafeMethods {
			if !validToken(m) {
				return fmt.Sprintf("policy.retry.safe_methods[%d]", i), bad("must be an HTTP method name, got %q", m)
			}
		}
	}
	return "", nil
}

// validHost accepts "", "*" (any host), a host name, or "*." followed by
// a host name; no port.
func validHost(h string) error {
	if h == "" || h == "*" {
		return nil
	}
	name := strings.TrimPrefix(h, "*.")
	if strings.Contains(name, "*") {
		return bad("a wildcard is only allowed as the first label (\"*.example.com\"), got %q", h)
	}
	if strings.Contains(name, ":") && net.ParseIP(strings.Trim(name, "[]")) == nil {
		return bad("must be a host name without a port, got %q", h)
	}
	if name == "" || len(name) > 253 {
		return bad("must be a host name, got %q", h)
	}
	for _, c := range []byte(name) {
		ok := c == '.' || c == '-' || c == '_' || c == ':' || c == '[' || c == ']' ||
			'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !ok {
			return bad("must be a host name, got %q", h)
		}
	}
	return nil
}

func validAddr(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil || host == "" {
		return bad("must be host:port, got %q", a)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return bad("port must be between 1 and 65535, got %q", a)
	}
	return nil
}

// validToken reports whether s is an RFC 9110 token (method and header
// names, track names).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
			return false
		}
	}
	return true
}

// canonicalMethods upper-cases methods; nil stays nil (any method).
func canonicalMethods(ms []string) []string {
	if len(ms) == 0 {
		return nil
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = strings.ToUpper(m)
	}
	return out
}

func canonicalHeaders(hs []HeaderMatch) []HeaderMatch {
	if len(hs) == 0 {
		return nil
	}
	out := make([]HeaderMatch, len(hs))
	for i, h := range hs {
		out[i] = HeaderMatch{Name: http.CanonicalHeaderKey(h.Name), Value: h.Value}
	}
	return out
}
