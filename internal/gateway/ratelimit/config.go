package ratelimit

import (
	"fmt"
	"math"
	"net/http"
	"strings"

	"github.com/berthdev/berth/internal/gateway"
)

// Key kinds of RateLimitPolicy.Key.
const (
	KeyIP         = "ip"
	KeyHeader     = "header:" // followed by the header's name
	KeySubject    = "jwt_sub"
	maxHeaderName = 256
)

type keyKind int

const (
	byIP keyKind = iota
	byHeader
	bySubject
)

// settings is a RateLimitPolicy with defaults applied and checked.
type settings struct {
	rate   float64 // tokens per second
	burst  int
	kind   keyKind
	header string // canonical, for byHeader
}

func resolve(p gateway.RateLimitPolicy) (settings, error) {
	s := settings{rate: p.Rate, burst: p.Burst}
	if math.IsNaN(s.rate) || math.IsInf(s.rate, 0) || s.rate <= 0 {
		return s, &fieldError{"rate", fmt.Sprintf("%g must be a positive number of requests per second", p.Rate)}
	}
	switch {
	case s.burst < 0:
		return s, &fieldError{"burst", fmt.Sprintf("%d must be zero (default: the rate, at least 1) or positive", s.burst)}
	case s.burst == 0:
		s.burst = max(1, int(math.Ceil(s.rate)))
	}
	switch k := p.Key; {
	case k == "" || k == KeyIP:
		s.kind = byIP
	case k == KeySubject:
		s.kind = bySubject
	case strings.HasPrefix(k, KeyHeader):
		name := strings.TrimPrefix(k, KeyHeader)
		if !validHeaderName(name) || len(name) > maxHeaderName {
			return s, &fieldError{"key", fmt.Sprintf("%q: %q is not a valid header name", k, name)}
		}
		s.kind, s.header = byHeader, http.CanonicalHeaderKey(name)
	default:
		return s, &fieldError{"key", fmt.Sprintf("%q is not one of ip, header:<Name>, jwt_sub", k)}
	}
	return s, nil
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
