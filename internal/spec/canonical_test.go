package spec

import (
	"bytes"
	"testing"
)

func TestCanonicalDeterministic(t *testing.T) {
	t.Parallel()
	a := mustParseFile(t, "shop.yaml")
	first, err := a.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		b := mustParseFile(t, "shop.yaml")
		c, err := b.Canonical()
		if err != nil || !bytes.Equal(c, first) {
			t.Fatalf("Canonical differs between parses:\n%s\n%s", first, c)
		}
	}
	// Canonical applies defaults to a copy, not to the app itself.
	raw := &App{Name: "x", Services: map[string]*Service{"x": {Image: "x"}}}
	c, err := raw.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if raw.Services["x"].Replicas != nil || !bytes.Contains(c, []byte(`"replicas":1`)) {
		t.Errorf("Canonical = %s; app changed: %v", c, raw.Services["x"].Replicas)
	}
}

// Characters that encoding/json leaves raw but YAML readers reject must not
// stop canonical JSON from being parsed again.
func TestCanonicalRoundTripsOddCharacters(t *testing.T) {
	t.Parallel()
	for _, esc := range []string{`\x7f`, `\x85`, `\x80`, `\x9f`, `\uFEFF`, `\uFFFE`, `\uFFFF`, `\U0001F600`, `\t`, `\r`, `\b`, `\e`, `\x01`, `\x1f`, `\xA0`, `\u2028`, `<&>`} {
		t.Run(esc, func(t *testing.T) {
			t.Parallel()
			src := "name: a\nservices: {a: {image: x, args: [\"a" + esc + "b\"], env: {A: \"" + esc + "\"}}}\n"
			a, err := Parse([]byte(src))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			c1, err := a.Canonical()
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(c1)
			if err != nil {
				t.Fatalf("re-parse: %v\n%q", err, c1)
			}
			if b.Services["a"].Env["A"] != a.Services["a"].Env["A"] {
				t.Errorf("value changed: %q -> %q", a.Services["a"].Env["A"], b.Services["a"].Env["A"])
			}
			if c2, _ := b.Canonical(); !bytes.Equal(c1, c2) {
				t.Errorf("canonical changed:\n%q\n%q", c1, c2)
			}
		})
	}
}

func TestCanonicalControlCharacters(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte("name: a\nservices: {a: {image: x, build: \"a\\x02b\", dir: \"d\\x01\"}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c1, _ := a.Canonical()
	b, err := Parse(c1)
	if err != nil {
		t.Fatalf("re-parse: %v\n%q", err, c1)
	}
	if c2, _ := b.Canonical(); !bytes.Equal(c1, c2) {
		t.Errorf("canonical changed:\n%q\n%q", c1, c2)
	}
}
