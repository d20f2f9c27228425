package rbac

import "fmt"

// Scope narrows what a token may do, whatever its owner's role. Scopes are
// ordered: admin includes deploy, which includes read.
type Scope string

// The token scopes, narrowest first. The zero Scope means "not a token":
// an interactive session, which acts with its whole role.
const (
	ScopeRead   Scope = "read"
	ScopeDeploy Scope = "deploy"
	ScopeAdmin  Scope = "admin"
)

var scopeOrder = []Scope{ScopeRead, ScopeDeploy, ScopeAdmin}

// AllScopes returns the scopes, narrowest first.
func AllScopes() []Scope { return append([]Scope(nil), scopeOrder...) }

// ParseScope checks a scope name from input; field names the input in the
// error.
func ParseScope(field, s string) (Scope, error) {
	sc := Scope(s)
	if sc.rank() < 0 {
		return "", fmt.Errorf("%s: %w scope %q: want one of %v", field, ErrInvalid, s, scopeOrder)
	}
	return sc, nil
}

func (s Scope) rank() int {
	for i, e := range scopeOrder {
		if e == s {
			return i
		}
	}
	return -1
}

// Valid reports whether s is a known scope (the zero Scope is not).
func (s Scope) Valid() bool { return s.rank() >= 0 }

// Includes reports whether s is at least as wide as o.
func (s Scope) Includes(o Scope) bool {
	return s.rank() >= 0 && o.rank() >= 0 && s.rank() >= o.rank()
}

// Allows reports whether a token of scope s may use p at all (its owner's
// role decides the rest).
func (s Scope) Allows(p Permission) bool {
	min, ok := minScope(p)
	return ok && s.Includes(min)
}

// MinScope is the narrowest scope that allows p; false for an unknown
// permission. The CLI uses it to say which scope a refused token lacks.
func MinScope(p Permission) (Scope, bool) { return minScope(p) }
