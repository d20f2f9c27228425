package spec

import (
	"strconv"
	"strings"
)

// Field paths look like services.api.ports[0].port. A map key that is not a
// plain word is quoted (services["my.api"]) so the path stays unambiguous.

func join(path, key string) string {
	if !plainKey(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ancestors calls f with path and then each shorter prefix of it that ends
// at a segment boundary, longest first, until f returns true.
func ancestors(path string, f func(string) bool) bool {
	if f(path) {
		return true
	}
	for i := len(path) - 1; i > 0; i-- {
		if (path[i] == '.' || path[i] == '[') && f(path[:i]) {
			return true
		}
	}
	return false
}

// under reports whether path is p or lies below it.
func under(path, p string) bool {
	if !strings.HasPrefix(path, p) {
		return false
	}
	rest := path[len(p):]
	return rest == "" || rest[0] == '.' || rest[0] == '['
}
