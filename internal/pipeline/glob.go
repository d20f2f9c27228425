package pipeline

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// Glob patterns match branch names, tag names and paths:
//
//	*      any run of characters except "/"
//	**     any run of characters, "/" included; "a/**/b" also matches "a/b"
//	?      one character except "/"
//	[abc]  one of the characters; [a-z] a range; [!abc] or [^abc] none of them
//	\x     the character x itself
//
// A pattern matches the whole name: "release/*" matches "release/1.2" but not
// "release/1.2/hotfix" nor "pre-release/1".

// CompileGlob checks pattern and returns a matcher for it.
func CompileGlob(pattern string) (*regexp.Regexp, error) {
	if re, ok := globCache.Load(pattern); ok {
		return re.(*regexp.Regexp), nil
	}
	src, err := globRegexp(pattern)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("glob %q: %w", pattern, err)
	}
	if globCacheSize.Add(1) < maxGlobCache {
		globCache.Store(pattern, re)
	}
	return re, nil
}

// MatchGlob reports whether name matches pattern; a bad pattern matches
// nothing (Parse has refused such patterns already).
func MatchGlob(pattern, name string) bool {
	re, err := CompileGlob(pattern)
	return err == nil && re.MatchString(name)
}

var (
	globCache     sync.Map // pattern -> *regexp.Regexp
	globCacheSize atomic.Int64
)

// maxGlobCache bounds the cache; patterns come from pipeline files, and a
// server reads many of them over its life.
const maxGlobCache = 4096

// globRegexp translates a glob into an anchored regular expression.
func globRegexp(p string) (string, error) {
	if p == "" {
		return "", fmt.Errorf("empty pattern")
	}
	if !utf8.ValidString(p) {
		return "", fmt.Errorf("pattern is not valid UTF-8")
	}
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch c {
		case '*':
			if i+1 < len(p) && p[i+1] == '*' {
				i++
				for i+1 < len(p) && p[i+1] == '*' {
					i++ // "***" is "**"
				}
				if i+1 < len(p) && p[i+1] == '/' {
					// "**/" is zero or more whole segments.
					i++
					b.WriteString("(?:.*/)?")
				} else {
					b.WriteString(".*")
				}
				continue
			}
			b.WriteString("[^/]*")
		case '?':
			b.WriteString("[^/]")
		case '\\':
			if i+1 >= len(p) {
				return "", fmt.Errorf("pattern ends with a lone \\")
			}
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case '[':
			end, class, err := globClass(p, i)
			if err != nil {
				return "", err
			}
			b.WriteString(class)
			i = end
		default:
			// Whole runes, so "ü" is one literal and not two stray bytes.
			_, size := utf8.DecodeRuneInString(p[i:])
			b.WriteString(regexp.QuoteMeta(p[i : i+size]))
			i += size - 1
		}
	}
	b.WriteString("$")
	return b.String(), nil
}

// globClass reads the class starting at p[start] == '[' and returns the
// index of its closing ']' and the regexp class.
func globClass(p string, start int) (int, string, error) {
	i := start + 1
	var b strings.Builder
	b.WriteString("[")
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		b.WriteString("^/")
		i++
	}
	n := 0
	for ; i < len(p); i++ {
		c := p[i]
		if c == ']' && n > 0 {
			b.WriteString("]")
			return i, b.String(), nil
		}
		switch c {
		case '\\':
			if i+1 >= len(p) {
				return 0, "", fmt.Errorf("pattern ends with a lone \\")
			}
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		case '[', ']', '^':
			b.WriteString(`\` + string(c))
		case '-':
			if n == 0 || i+1 >= len(p) || p[i+1] == ']' {
				b.WriteString(`\-`)
			} else {
				b.WriteByte('-')
			}
		default:
			if c >= 0x80 {
				// Non-ASCII bytes stay a literal byte sequence outside a
				// class; inside one they would become single runes.
				return 0, "", fmt.Errorf("non-ASCII characters are not allowed in [...]")
			}
			b.WriteByte(c)
		}
		n++
	}
	return 0, "", fmt.Errorf("[ at offset %d has no closing ]", start)
}

// GlobPrefix is the folder part of a glob before its first wildcard,
// where a walk for it may start: "dist/**/*.tgz" -> "dist".
func GlobPrefix(pattern string) string {
	segs := strings.Split(pattern, "/")
	var lit []string
	for _, s := range segs[:len(segs)-1] {
		if strings.ContainsAny(s, `*?[\`) {
			break
		}
		lit = append(lit, s)
	}
	if len(lit) == len(segs)-1 && !strings.ContainsAny(segs[len(segs)-1], `*?[\`) {
		return pattern // no wildcard at all: the path itself
	}
	if len(lit) == 0 {
		return "."
	}
	return strings.Join(lit, "/")
}

// MatchesOrUnder reports whether p matches pattern or lies in a folder
// that does: an artifact pattern naming a folder takes all under it.
func MatchesOrUnder(pattern, p string) bool {
	for q := p; q != "." && q != "/" && q != ""; q = path.Dir(q) {
		if MatchGlob(pattern, q) {
			return true
		}
	}
	return false
}
