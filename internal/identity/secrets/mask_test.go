package secrets

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestMaskSet(t *testing.T) {
	t.Parallel()
	v := "p@ss w/rd\"1"
	set := MaskSet(v, "abc", "")
	if !slices.Contains(set, "abc") {
		t.Error("a short whole value is not masked")
	}
	for _, want := range []string{
		v,
		base64.StdEncoding.EncodeToString([]byte(v)),
		base64.RawURLEncoding.EncodeToString([]byte(v)),
		`p@ss w/rd\"1`,
		url.QueryEscape(v),
	} {
		if !slices.Contains(set, want) {
			t.Errorf("MaskSet lacks %q", want)
		}
	}
	if slices.Contains(set, "") {
		t.Errorf("MaskSet %q holds the empty string", set)
	}
	// Derived forms shorter than MinMaskLen are left out: the lines "}" and
	// "ab" of a multi-line value.
	multi := MaskSet("{\n  \"k\": \"s3cr3t-value\"\n}\nab")
	if slices.Contains(multi, "}") || slices.Contains(multi, "ab") || !slices.Contains(multi, `"k": "s3cr3t-value"`) {
		t.Errorf("MaskSet of a multi-line value: %q", multi)
	}
	for i := 1; i < len(set); i++ {
		if len(set[i]) > len(set[i-1]) {
			t.Fatalf("MaskSet not longest first: %q before %q", set[i-1], set[i])
		}
	}
	pem := "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\n"
	if !slices.Contains(MaskSet(pem), "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") {
		t.Error("a line of a multi-line secret is not masked on its own")
	}
}

func TestMasker(t *testing.T) {
	t.Parallel()
	m := NewMasker("hunter2hunter2", "sk_live_123456", "xyz")
	tests := []struct{ desc, in, want string }{
		{"plain", "connecting with password hunter2hunter2 now", "connecting with password *** now"},
		{"two", "a=hunter2hunter2 b=sk_live_123456", "a=*** b=***"},
		{"base64", "auth " + base64.StdEncoding.EncodeToString([]byte("hunter2hunter2")), "auth ***"},
		{"url", "https://x/?k=" + url.QueryEscape("sk_live_123456"), "https://x/?k=***"},
		{"short value masked too", "a xyz b", "a *** b"},
		{"nothing", "all clear", "all clear"},
	}
	for _, tt := range tests {
		if got := m.Mask(tt.in); got != tt.want {
			t.Errorf("%s: Mask(%q) = %q, want %q", tt.desc, tt.in, got, tt.want)
		}
	}
	var nilMasker *Masker
	if nilMasker.Mask("x") != "x" || nilMasker.Len() != 0 {
		t.Error("nil Masker must mask nothing")
	}
}

// TestHandler runs a real slog JSON handler behind the masking one.
func TestHandler(t *testing.T) {
	t.Parallel()
	m := NewMasker("hunter2hunter2", "424242")
	var buf bytes.Buffer
	logger := slog.New(m.Handler(slog.NewJSONHandler(&buf, nil)))
	logger = logger.With("conn", "postgres://u:hunter2hunter2@db/x")
	logger.WithGroup("g").Info("login with hunter2hunter2",
		"user", "alice",
		"pin", 424242,
		"err", errors.New(`dial: password "hunter2hunter2" refused`),
		"n", 7,
		slog.Group("inner", "v", "hunter2hunter2"),
	)
	out := buf.String()
	if strings.Contains(out, "hunter2") || strings.Contains(out, "424242") {
		t.Fatalf("secret in log line: %s", out)
	}
	for _, want := range []string{`"msg":"login with ***"`, `"user":"alice"`, `"n":7`, `"pin":"***"`, `"inner":{"v":"***"}`, `u:***@db`} {
		if !strings.Contains(out, want) {
			t.Errorf("log line lacks %s: %s", want, out)
		}
	}
}
