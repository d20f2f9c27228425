package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// Canonical returns the app as compact JSON with defaults applied. The same
// spec always gives the same bytes (struct fields in declaration order, map
// keys sorted by encoding/json), so releases hash and diff it. a itself is
// not changed.
func (a *App) Canonical() ([]byte, error) {
	c, err := a.clone()
	if err != nil {
		return nil, err
	}
	c.SetDefaults()
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("spec: encode canonical JSON: %w", err)
	}
	return escapeNonYAML(b), nil
}

// escapeNonYAML writes the characters that encoding/json leaves raw but a
// YAML reader rejects (DEL, C1 controls, U+FFFE, U+FFFF) as \uXXXX escapes,
// so canonical JSON can always be parsed again by Parse. Outside strings JSON
// is ASCII, so only string contents change, and only in spelling.
func escapeNonYAML(b []byte) []byte {
	if !bytes.ContainsFunc(b, notYAMLPrintable) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if notYAMLPrintable(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

func notYAMLPrintable(r rune) bool {
	return r == 0x7f || r >= 0x80 && r <= 0x9f || r == 0xfffe || r == 0xffff
}

// clone returns a deep copy of a by a JSON round trip; the types are plain
// data, so nothing is lost.
func (a *App) clone() (*App, error) {
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("spec: copy app: %w", err)
	}
	var c App
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("spec: copy app: %w", err)
	}
	return &c, nil
}
