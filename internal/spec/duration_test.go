package spec

import (
	"encoding/json"
	"testing"
	"time"
)

func TestDurationJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		d    Duration
		json string
	}{
		{desc: "seconds", d: Duration(5 * time.Second), json: `"5s"`},
		{desc: "mixed", d: Duration(90 * time.Second), json: `"1m30s"`},
		{desc: "sub-second", d: Duration(500 * time.Millisecond), json: `"500ms"`},
		{desc: "zero", d: 0, json: `"0s"`},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			b, err := json.Marshal(tt.d)
			if err != nil || string(b) != tt.json {
				t.Fatalf("Marshal = %s, %v; want %s", b, err, tt.json)
			}
			var back Duration
			if err := json.Unmarshal(b, &back); err != nil || back != tt.d {
				t.Errorf("Unmarshal = %v, %v", back, err)
			}
		})
	}
	var d Duration
	for _, bad := range []string{`5`, `"5"`, `"soon"`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	fields := []string{"command", "image", "replicas", "depends_on", "env", "health"}
	tests := []struct{ in, want string }{
		{"comand", "command"},
		{"commnad", "command"},
		{"replica", "replicas"},
		{"depends-on", "depends_on"},
		{"Image", "image"},
		{"evn", "env"},
		{"colour", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, fields); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
