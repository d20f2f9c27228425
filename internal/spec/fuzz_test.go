package spec

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks that Parse never panics, that every failure is a
// *ValidationError with at least one problem, and that an accepted spec's
// canonical JSON parses back to the same canonical JSON. Seeds: the specs in
// testdata/valid, a few hostile snippets below, and testdata/fuzz/FuzzParse.
//
//	go test ./internal/spec -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "valid", "*"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"~",
		"[]",
		"name: a\nservices: {a: {image: x, ports: [1, {port: 2, protocol: tcp}]}}",
		"a: &a {<<: *a}",
		"name: a\nservices:\n  a: &s {image: x, depends_on: [a]}\n  b: *s\n",
		"name: a\nservices: {a: {image: x, env: {A: \"\\u0000\"}}}",
		"{\"name\":\"a\",\"services\":{\"a\":{\"command\":[\"\\u2028\"],\"health\":{\"tcp\":null}}}}",
		"name: a\nservices: {a: {image: x, replicas: 0x10, stop_grace_period: 1.5h}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error is not a non-empty *ValidationError: %#v", err)
			}
			for _, p := range ve.Problems {
				if p.Message == "" {
					t.Fatalf("problem without message: %+v", p)
				}
			}
			return
		}
		c1, err := a.Canonical()
		if err != nil {
			t.Fatalf("Canonical: %v", err)
		}
		b, err := Parse(c1)
		if err != nil {
			t.Fatalf("re-parse of canonical JSON failed: %v\n%s", err, c1)
		}
		c2, err := b.Canonical()
		if err != nil {
			t.Fatalf("Canonical after re-parse: %v", err)
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("canonical JSON changed:\n%s\n%s", c1, c2)
		}
	})
}

// FuzzCanonicalStrings puts arbitrary text into every free-text field of a
// valid spec (as YAML double-quoted strings) and checks that, when the spec
// is accepted, its canonical JSON parses back to the same canonical JSON.
// Random YAML rarely gets this far, so this covers the round trip better.
func FuzzCanonicalStrings(f *testing.F) {
	for _, s := range []string{"", "plain", "\x7f\u0085\ufffe", "\u2028\U0001F600", "a\\/b", "\x00", "\t\r\n", "<&>"} {
		f.Add(s, int64(len(s)))
	}
	f.Fuzz(func(t *testing.T, s string, n int64) {
		if !utf8.ValidString(s) {
			return // a YAML document is UTF-8
		}
		q := strconv.Quote(s)
		doc := fmt.Sprintf(`name: a
source: {git: %[1]s, branch: %[1]s}
services:
  a:
    build: %[1]s
    dir: %[1]s
    image: %[1]s
    command: [%[1]s]
    args: [%[1]s, %[1]s]
    env: {A: %[1]s}
    ports: [%[2]d]
    health: {http: {path: %[1]s}}
    resources: {cpu: %[1]s, memory: %[1]s}
    volumes: [{name: v, path: %[1]s, size: %[1]s}]
    stop_grace_period: %[1]s
routes: [{host: %[1]s, path: %[1]s, service: a}]
`, q, n)
		checkRoundTrip(t, []byte(doc))
		// Each field on its own, so one rejected field does not hide the rest.
		for _, field := range []string{"build", "image", "args", "env", "dir"} {
			var extra string
			switch field {
			case "args":
				extra = "args: [" + q + "]"
			case "env":
				extra = "env: {A: " + q + "}"
			default:
				extra = field + ": " + q
			}
			checkRoundTrip(t, []byte("name: a\nservices:\n  a:\n    command: [x]\n    "+extra+"\n"))
		}
	})
}

func checkRoundTrip(t *testing.T, doc []byte) {
	t.Helper()
	a, err := Parse(doc)
	if err != nil {
		return
	}
	c1, err := a.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	b, err := Parse(c1)
	if err != nil {
		t.Fatalf("re-parse of canonical JSON failed: %v\n%q\nfrom %q", err, c1, doc)
	}
	if c2, _ := b.Canonical(); !bytes.Equal(c1, c2) {
		t.Fatalf("canonical JSON changed:\n%q\n%q", c1, c2)
	}
}
