package pipeline

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A cache key is literal text with {{ hash "path" }} parts, each replaced by
// a digest of that file of the checkout: "go-{{ hash \"go.sum\" }}" changes
// when go.sum does, so a stale cache is never restored for new lock files.

// MaxCacheKey is the longest key after expansion; keys name folders.
const MaxCacheKey = 200

var (
	keyTemplate = regexp.MustCompile(`\{\{\s*hash\s+"([^"]*)"\s*\}\}`)
	keyLiteral  = regexp.MustCompile(`^[A-Za-z0-9._-]*$`)
)

// CheckCacheKey reports what is wrong with key's syntax, or nil.
func CheckCacheKey(key string) error {
	_, err := ExpandCacheKey(key, func(string) (string, error) { return "0", nil })
	return err
}

// ExpandCacheKey replaces each {{ hash "path" }} by hash(path) and checks
// that the result can name a folder.
func ExpandCacheKey(key string, hash func(path string) (string, error)) (string, error) {
	var b strings.Builder
	rest := key
	for {
		loc := keyTemplate.FindStringSubmatchIndex(rest)
		lit := rest
		if loc != nil {
			lit = rest[:loc[0]]
		}
		if !keyLiteral.MatchString(lit) {
			if strings.Contains(lit, "{{") {
				return "", errors.New(`bad template; the only one is {{ hash "path/to/file" }}`)
			}
			return "", fmt.Errorf("%q holds characters other than letters, digits, '.', '_' and '-' (and {{ hash \"file\" }})", key)
		}
		b.WriteString(lit)
		if loc == nil {
			break
		}
		p := rest[loc[2]:loc[3]]
		if msg := relPathProblem(p, false); msg != "" {
			return "", fmt.Errorf("hash: %s", msg)
		}
		h, err := hash(p)
		if err != nil {
			return "", fmt.Errorf("hash %q: %w", p, err)
		}
		b.WriteString(h)
		rest = rest[loc[1]:]
	}
	out := b.String()
	switch {
	case out == "" || out == "." || out == "..":
		return "", fmt.Errorf("%q cannot name a cache", key)
	case !keyLiteral.MatchString(out):
		return "", fmt.Errorf("%q expands to %q, which cannot name a cache", key, out)
	case len(out) > MaxCacheKey:
		return "", fmt.Errorf("the key is %d characters long; at most %d", len(out), MaxCacheKey)
	}
	return out, nil
}
