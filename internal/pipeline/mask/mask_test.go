package mask

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc    string
		secrets []string
		writes  []string
		want    string
	}{
		{desc: "no secrets passes through", writes: []string{"a", "b"}, want: "ab"},
		{desc: "one write", secrets: []string{"hunter2"}, writes: []string{"pw=hunter2 ok\n"}, want: "pw=*** ok\n"},
		{desc: "split across writes", secrets: []string{"hunter2"}, writes: []string{"pw=hun", "te", "r2 ok\n"}, want: "pw=*** ok\n"},
		{desc: "one byte at a time", secrets: []string{"hunter2"}, writes: strings.Split("x hunter2 y hunter2", ""), want: "x *** y ***"},
		{desc: "at the very end", secrets: []string{"tok"}, writes: []string{"a to", "k"}, want: "a ***"},
		{desc: "prefix without the rest is kept", secrets: []string{"secret"}, writes: []string{"a secre", "t? no: secre"}, want: "a ***? no: secre"},
		{desc: "repeated", secrets: []string{"aa"}, writes: []string{"aaaa"}, want: "***"},
		{desc: "adjacent secrets become one", secrets: []string{"foo", "bar"}, writes: []string{"xfoobarx"}, want: "x***x"},
		{desc: "overlapping secrets", secrets: []string{"abc", "cde"}, writes: []string{"1abcde2"}, want: "1***2"},
		{desc: "one inside another", secrets: []string{"pass", "mypassword"}, writes: []string{"mypassword pass"}, want: "*** ***"},
		{desc: "spans lines", secrets: []string{"line1\nline2"}, writes: []string{"x line1\n", "line2 y"}, want: "x *** y"},
		{desc: "multi-line secret, lines on their own", secrets: []string{"-----BEGIN KEY-----\nMIIEabcd\n-----END KEY-----\n"}, writes: []string{"> MIIEabcd\n> ok\n"}, want: "> ***\n> ok\n"},
		{desc: "short lines are not masked alone", secrets: []string{"abcdef\n}\n"}, writes: []string{"{\n}\n"}, want: "{\n}\n"},
		{desc: "CRLF lines", secrets: []string{"first-line\r\nsecond-line"}, writes: []string{"second-line\r\n"}, want: "***\r\n"},
		{desc: "secret split over a masked one", secrets: []string{"ab", "abcd"}, writes: []string{"xab", "cdx"}, want: "x***x"},
		{desc: "empty secret ignored", secrets: []string{""}, writes: []string{"abc"}, want: "abc"},
		{desc: "unicode", secrets: []string{"пароль"}, writes: []string{"p=пар", "оль!"}, want: "p=***!"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			w := New(&out, tt.secrets)
			for _, s := range tt.writes {
				n, err := w.Write([]byte(s))
				if err != nil || n != len(s) {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestStreaming checks that at most len(longest)-1 bytes are held back.
func TestStreaming(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := New(&out, []string{"0123456789"})
	if _, err := w.Write([]byte("hello world, this is a log line\n")); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "hello world, this is a "; got != want {
		t.Errorf("written so far %q, want %q (9 bytes held)", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
}

// FuzzMask checks, for any data, secrets and split of the data into
// writes, that no secret (nor masked line of one) reaches the output and
// that the output does not depend on the split.
//
//	go test ./internal/pipeline/mask -run '^$' -fuzz FuzzMask -fuzztime 60s
func FuzzMask(f *testing.F) {
	f.Add([]byte("token=abc123 and abc123\n"), "abc123", "zz", []byte{3, 1, 7})
	f.Add([]byte("k1\nk2\nk1k2"), "k1\nk2", "k2", []byte{1})
	f.Add([]byte("aaaaaaa"), "aa", "aaa", []byte{1, 1, 1})
	f.Add([]byte("-----BEGIN-----\nabcdEFGH\n-----END-----"), "-----BEGIN-----\nabcdEFGH\n-----END-----\n", "", []byte{5, 9})
	f.Fuzz(func(t *testing.T, data []byte, s1, s2 string, splits []byte) {
		if strings.Contains(s1+s2, "*") {
			return // a secret with '*' can be spelt by the replacement itself
		}
		secrets := []string{s1, s2}
		var whole bytes.Buffer
		ww := New(&whole, secrets)
		if _, err := ww.Write(data); err != nil {
			t.Fatal(err)
		}
		if err := ww.Close(); err != nil {
			t.Fatal(err)
		}
		var split bytes.Buffer
		sw := New(&split, secrets)
		rest := data
		for _, n := range splits {
			k := min(int(n)%8, len(rest))
			if _, err := sw.Write(rest[:k]); err != nil {
				t.Fatal(err)
			}
			rest = rest[k:]
		}
		if _, err := sw.Write(rest); err != nil {
			t.Fatal(err)
		}
		if err := sw.Close(); err != nil {
			t.Fatal(err)
		}
		if whole.String() != split.String() {
			t.Fatalf("output depends on the split:\nwhole %q\nsplit %q", whole.String(), split.String())
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(split.String(), s) {
				t.Fatalf("secret %q leaked in %q", s, split.String())
			}
			if !strings.ContainsAny(s, "\r\n") {
				continue
			}
			for line := range strings.Lines(s) {
				line = strings.TrimSpace(line)
				if len(line) >= MinLinePart && strings.Contains(split.String(), line) {
					t.Fatalf("line %q of a secret leaked in %q", line, split.String())
				}
			}
		}
	})
}
