package secrets

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// MinMaskLen is the shortest derived form that is masked: a line of a
// multi-line secret, or an encoding of it. Shorter lines ("}", "-----")
// would blank out ordinary output. A whole secret value is masked at any
// length, as internal/pipeline/mask does: a mangled log is better than a
// leaked secret, and the API can refuse very short secrets.
const MinMaskLen = 4

// Mask replaces a secret in logs (the same as internal/pipeline/mask).
const Mask = "***"

// MaskSet returns every string to hide from logs for the given secret
// values: each non-empty value, each line of a multi-line value (a PEM key
// is often logged line by line), and the forms a value takes when a
// program logs it encoded — base64 (standard and URL, padded or not),
// JSON-escaped and URL-escaped. Derived forms shorter than MinMaskLen are
// left out. The result is sorted longest first, so a replacer hides a
// whole value before any part of it. Feed it to NewMasker for log lines,
// or to internal/pipeline/mask.New for streamed step output.
func MaskSet(values ...string) []string {
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= MinMaskLen {
			seen[s] = true
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		seen[v] = true
		forms := []string{v}
		if strings.ContainsAny(v, "\r\n") {
			for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
				forms = append(forms, strings.TrimSpace(line))
			}
		}
		for _, f := range forms {
			add(f)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
				add(enc.EncodeToString([]byte(f)))
			}
			if j, err := json.Marshal(f); err == nil {
				add(string(j[1 : len(j)-1]))
			}
			add(url.QueryEscape(f))
			add(url.PathEscape(f))
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return out
}

// Masker hides a fixed set of secret values. It is immutable and safe for
// concurrent use: when secrets change, build a new one and swap it in
// (an atomic.Pointer), rather than locking on every log line.
type Masker struct {
	r *strings.Replacer
	n int
}

// NewMasker masks MaskSet(values...).
func NewMasker(values ...string) *Masker {
	set := MaskSet(values...)
	pairs := make([]string, 0, 2*len(set))
	for _, s := range set {
		pairs = append(pairs, s, Mask)
	}
	return &Masker{r: strings.NewReplacer(pairs...), n: len(set)}
}

// Mask returns s with every masked string replaced by Mask. A nil Masker
// masks nothing.
func (m *Masker) Mask(s string) string {
	if m == nil || m.n == 0 {
		return s
	}
	return m.r.Replace(s)
}

// Len is how many strings are masked.
func (m *Masker) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Handler returns a slog.Handler that masks the message and every string
// attribute (groups included) before passing the record to next. Values
// of other kinds are checked through their text too.
func (m *Masker) Handler(next slog.Handler) slog.Handler {
	return &maskHandler{m: m, next: next}
}

type maskHandler struct {
	m    *Masker
	next slog.Handler
}

func (h *maskHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h *maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, h.m.Mask(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.maskAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *maskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = h.maskAttr(a)
	}
	return &maskHandler{m: h.m, next: h.next.WithAttrs(masked)}
}

func (h *maskHandler) WithGroup(name string) slog.Handler {
	return &maskHandler{m: h.m, next: h.next.WithGroup(name)}
}

func (h *maskHandler) maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.m.Mask(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, ga := range g {
			out[i] = h.maskAttr(ga)
		}
		return slog.Group(a.Key, out...)
	default:
		// Numbers, times, errors, structs: masked through their text, and
		// only turned into a string when the text held a secret (a numeric
		// PIN, an error quoting a password), so JSON output keeps its
		// types otherwise.
		s := v.String()
		if masked := h.m.Mask(s); masked != s {
			return slog.String(a.Key, masked)
		}
		return slog.Attr{Key: a.Key, Value: v}
	}
}
