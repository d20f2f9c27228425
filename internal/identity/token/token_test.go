package token

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/berthdev/berth/internal/identity/rbac"
)

var now = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func mustNew(t *testing.T, kind Kind, scope rbac.Scope, ttl time.Duration) (string, Stored) {
	t.Helper()
	tok, st, err := New(kind, scope, now, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok, st
}

func TestNewAndVerify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc   string
		kind   Kind
		prefix string
		length int
	}{
		{desc: "personal", kind: KindPersonal, prefix: "berth_pat_", length: 69},
		{desc: "team", kind: KindTeam, prefix: "berth_tt_", length: 68},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			tok, st := mustNew(t, tt.kind, rbac.ScopeDeploy, 0)
			if !strings.HasPrefix(tok, tt.prefix) || len(tok) != tt.length {
				t.Fatalf("token %q: want prefix %q and %d characters", tok, tt.prefix, tt.length)
			}
			if st.Kind != tt.kind || st.Scope != rbac.ScopeDeploy || !st.ExpiresAt.IsZero() {
				t.Fatalf("stored %+v", st)
			}
			if st.Hash != Hash(tok) || len(st.Hash) != 64 || strings.Contains(st.Hash, tok) {
				t.Fatalf("stored hash %q is not the hex sha256 of the token", st.Hash)
			}
			if st.Last4 != tok[len(tok)-4:] || st.Display() != tt.prefix+"…"+st.Last4 {
				t.Fatalf("last4 %q display %q", st.Last4, st.Display())
			}
			if k, err := Parse(tok); err != nil || k != tt.kind {
				t.Fatalf("Parse = %v, %v", k, err)
			}
			if !Verify(tok, st) {
				t.Fatal("Verify(own token) = false")
			}
			if err := Check(tok, st, now.Add(100*365*24*time.Hour)); err != nil {
				t.Fatalf("Check without expiry: %v", err)
			}
		})
	}
}

func TestTokensDiffer(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		tok, _ := mustNew(t, KindPersonal, rbac.ScopeRead, 0)
		if seen[tok] {
			t.Fatalf("token %q made twice", tok)
		}
		seen[tok] = true
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	tok, st := mustNew(t, KindPersonal, rbac.ScopeAdmin, 0)
	other, otherSt := mustNew(t, KindPersonal, rbac.ScopeAdmin, 0)
	teamTok, _ := mustNew(t, KindTeam, rbac.ScopeAdmin, 0)
	wrongKind := st
	wrongKind.Kind = KindTeam
	badHash := st
	badHash.Hash = "zz" + st.Hash[2:]
	shortHash := st
	shortHash.Hash = st.Hash[:32]
	tests := []struct {
		desc      string
		presented string
		stored    Stored
	}{
		{desc: "another token", presented: other, stored: st},
		{desc: "own token, another row", presented: tok, stored: otherSt},
		{desc: "team token against personal row", presented: teamTok, stored: st},
		{desc: "kind changed in row", presented: tok, stored: wrongKind},
		{desc: "row hash not hex", presented: tok, stored: badHash},
		{desc: "row hash truncated", presented: tok, stored: shortHash},
		{desc: "empty", presented: "", stored: st},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if Verify(tt.presented, tt.stored) {
				t.Fatal("Verify = true, want false")
			}
		})
	}
	if err := Check(other, st, now); !errors.Is(err, ErrMismatch) {
		t.Fatalf("Check(other) = %v, want ErrMismatch", err)
	}
}

// TestParseRejectsMalformed covers the early, offline rejection: every
// single-character typo is caught by the checksum.
func TestParseRejectsMalformed(t *testing.T) {
	t.Parallel()
	tok, st := mustNew(t, KindPersonal, rbac.ScopeRead, 0)
	tests := []struct{ desc, s string }{
		{desc: "empty", s: ""},
		{desc: "old admin token shape", s: "berth_" + strings.Repeat("a", 52)},
		{desc: "unknown prefix", s: "berth_xx_" + tok[len(PersonalPrefix):]},
		{desc: "github token", s: "ghp_" + tok[len(PersonalPrefix):]},
		{desc: "truncated", s: tok[:len(tok)-1]},
		{desc: "extra char", s: tok + "a"},
		{desc: "upper case", s: PersonalPrefix + strings.ToUpper(tok[len(PersonalPrefix):])},
		{desc: "padding", s: tok[:len(tok)-1] + "="},
		{desc: "space", s: tok[:20] + " " + tok[21:]},
		{desc: "swapped adjacent", s: tok[:30] + tok[31:32] + tok[30:31] + tok[32:]},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			if tt.s == tok {
				t.Skip("swap of two equal characters")
			}
			if _, err := Parse(tt.s); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse = %v, want ErrMalformed", err)
			}
			if err := Check(tt.s, st, now); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Check = %v, want ErrMalformed", err)
			}
		})
	}
	// Every one-character substitution anywhere after the prefix.
	alphabet := "abcdefghijklmnopqrstuvwxyz234567"
	caught := 0
	for i := len(PersonalPrefix); i < len(tok); i++ {
		for j := 0; j < len(alphabet); j++ {
			if alphabet[j] == tok[i] {
				continue
			}
			typo := tok[:i] + alphabet[j:j+1] + tok[i+1:]
			if _, err := Parse(typo); err == nil {
				t.Fatalf("typo at %d (%q) passed the checksum", i, alphabet[j])
			}
			caught++
		}
	}
	t.Logf("%d single-character typos caught offline", caught)
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	tok, st := mustNew(t, KindTeam, rbac.ScopeDeploy, time.Hour)
	if !st.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v", st.ExpiresAt)
	}
	tests := []struct {
		desc string
		at   time.Time
		want error
	}{
		{desc: "fresh", at: now},
		{desc: "a second before", at: now.Add(time.Hour - time.Second)},
		{desc: "at expiry", at: now.Add(time.Hour), want: ErrExpired},
		{desc: "after", at: now.Add(2 * time.Hour), want: ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			err := Check(tok, st, tt.at)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Check = %v, want %v", err, tt.want)
			}
		})
	}
	// Verify checks the hash only; expiry is Check's job.
	if !Verify(tok, st) {
		t.Fatal("Verify of an expired but matching token = false")
	}
}

func TestNewRejectsBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc  string
		kind  Kind
		scope rbac.Scope
		ttl   time.Duration
		field string
	}{
		{desc: "kind", kind: "bot", scope: rbac.ScopeRead, field: "kind:"},
		{desc: "scope", kind: KindPersonal, scope: "write", field: "scope:"},
		{desc: "no scope", kind: KindPersonal, scope: "", field: "scope:"},
		{desc: "ttl", kind: KindPersonal, scope: rbac.ScopeRead, ttl: -time.Second, field: "ttl:"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, _, err := New(tt.kind, tt.scope, now, tt.ttl)
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), tt.field) {
				t.Fatalf("New = %v, want ErrInvalid naming %s", err, tt.field)
			}
		})
	}
	if _, err := ParseKind("kind", "pat"); err != nil {
		t.Fatal(err)
	}
}
