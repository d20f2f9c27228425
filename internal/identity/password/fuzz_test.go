package password

import "testing"

// FuzzParse: reading stored hashes never panics, and whatever parses has
// parameters inside the limits (so Verify cannot be made to allocate
// without bound) and encodes back to the same string.
func FuzzParse(f *testing.F) {
	good, err := Hash("password", "correct horse battery", fast)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := parse(s)
		if err != nil {
			return
		}
		if err := e.params.Validate(); err != nil {
			t.Fatalf("parse accepted out-of-range params in %q: %v", s, err)
		}
		if e.String() != s {
			t.Fatalf("parse(%q) re-encodes as %q", s, e.String())
		}
	})
}
