package token

import (
	"testing"

	"github.com/berthdev/berth/internal/identity/rbac"
)

// FuzzParse: Parse never panics, and whatever it accepts has a known
// prefix, the exact length and a checksum that holds.
func FuzzParse(f *testing.F) {
	tok, _, err := New(KindPersonal, rbac.ScopeRead, now, 0)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{tok, "", "berth_pat_", "berth_tt_" + tok[10:], tok[:len(tok)-1] + "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, err := Parse(s)
		if err != nil {
			return
		}
		body := s[:len(s)-checksumChars]
		if len(s) != len(kind.Prefix())+randomChars+checksumChars || checksum(body) != s[len(body):] {
			t.Fatalf("Parse accepted %q", s)
		}
	})
}
