package spec

import (
	"fmt"
	"strings"
)

// labelProblem says why s is not a DNS label (RFC 1123, and starting with a
// letter so it is also a valid Kubernetes object and env-var stem), or "".
func labelProblem(s string) string {
	switch {
	case s == "":
		return "is required"
	case len(s) > 63:
		return fmt.Sprintf("%s is longer than 63 characters", quoteShort(s))
	case s[0] < 'a' || s[0] > 'z':
		return fmt.Sprintf("%s must start with a lowercase letter", quoteShort(s))
	case s[len(s)-1] == '-':
		return fmt.Sprintf("%s must not end with '-'", quoteShort(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("%s may contain only lowercase letters, digits and '-'", quoteShort(s))
		}
	}
	return ""
}

// hostProblem says why s is not a hostname (or *.domain wildcard), or "".
func hostProblem(s string) string {
	if s == "" {
		return "is required"
	}
	host := strings.TrimPrefix(s, "*.")
	if len(host) > 253 {
		return fmt.Sprintf("%s is longer than 253 characters", quoteShort(s))
	}
	if strings.ToLower(host) != host {
		return fmt.Sprintf("%s must be lowercase", quoteShort(s))
	}
	for _, label := range strings.Split(host, ".") {
		if !hostLabel(label) {
			return fmt.Sprintf("%s is not a hostname: expected labels of 1-63 letters, digits and '-' separated by dots, optionally starting with \"*.\"", quoteShort(s))
		}
	}
	return ""
}

func hostLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validEnvName reports whether s is a portable environment variable name.
func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// quoteShort quotes s for a message, shortening very long values.
func quoteShort(s string) string {
	const limit = 70
	if len(s) > limit {
		r := []rune(s)
		if len(r) > limit {
			s = string(r[:limit]) + "..."
		}
	}
	return fmt.Sprintf("%q", s)
}
