package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"syscall"
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

// ExpandCacheKeyIn expands key against the checkout in dir: each
// {{ hash "file" }} becomes the first 16 hex digits of the SHA-256 of that
// file (its first 64 MiB), read through an os.Root so the key cannot be
// made to read outside it, without blocking and without following a last
// symlink (an earlier step may have put a FIFO or a link where the lock
// file was).
func ExpandCacheKeyIn(dir, key string) (string, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return "", err
	}
	defer root.Close()
	return ExpandCacheKey(key, func(p string) (string, error) {
		f, err := root.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", p)
		}
		h := sha256.New()
		if _, err := io.Copy(h, io.LimitReader(f, 64<<20)); err != nil {
			return "", err
		}
		return hex.EncodeToString(h.Sum(nil))[:16], nil
	})
}
