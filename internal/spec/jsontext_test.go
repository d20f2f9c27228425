package spec

import "testing"

func TestParseJSONEscapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, value, want string
	}{
		{desc: "escaped slash", value: `a\/b`, want: "a/b"},
		{desc: "surrogate pair", value: `\ud83d\ude00!`, want: "😀!"},
		{desc: "upper-case hex", value: `\uD83D\uDE00`, want: "😀"},
		{desc: "lone high surrogate", value: `a\ud83db`, want: "a\uFFFDb"},
		{desc: "lone low surrogate", value: `\ude00`, want: "\uFFFD"},
		{desc: "high then non-surrogate", value: `\ud83d\u0041`, want: "\uFFFDA"},
		{desc: "escaped backslash before u", value: `\\ud83d`, want: `\ud83d`},
		{desc: "ordinary escapes stay", value: `\u00e9\t\"\\`, want: "é\t\"\\"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			src := "{\n  \"name\": \"a\",\n  \"services\": {\"a\": {\"image\": \"x\", \"env\": {\"K\": \"" + tt.value + "\"}}}\n}"
			a, err := Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if got := a.Services["a"].Env["K"]; got != tt.want {
				t.Errorf("K = %q, want %q", got, tt.want)
			}
		})
	}
	// Lines survive the respelling.
	_, err := Parse([]byte("{\n\"name\": \"a\\/\",\n\"services\": {\"a\": {\"image\": \"\\ud83d\\ude00\",\n\"replicas\": \"x\"}}}"))
	ve, ok := err.(*ValidationError)
	if !ok || len(ve.Problems) != 2 || ve.Problems[0].Line != 2 || ve.Problems[1].Line != 4 {
		t.Errorf("Parse = %#v", err)
	}
}
