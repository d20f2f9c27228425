package snapshot

import (
	"strings"
	"testing"
)

func TestOrder(t *testing.T) {
	t.Parallel()
	tables := func(names ...string) []Table {
		var out []Table
		for _, n := range names {
			out = append(out, Table{Name: n})
		}
		return out
	}
	tests := []struct {
		desc    string
		tables  []Table
		parents map[string][]string
		want    string
		wantErr string
	}{
		{desc: "by name without keys", tables: tables("b", "a", "c"), want: "a b c"},
		{desc: "parents first", tables: tables("approvals", "runs", "apps"),
			parents: map[string][]string{"approvals": {"runs"}, "runs": {"apps"}}, want: "apps runs approvals"},
		{desc: "a self-reference and an outside parent are ignored", tables: tables("b", "a"),
			parents: map[string][]string{"a": {"a", "elsewhere"}, "b": {"a"}}, want: "a b"},
		{desc: "a cycle", tables: tables("a", "b"), parents: map[string][]string{"a": {"b"}, "b": {"a"}}, wantErr: "cycle"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, err := Order(tt.tables, tt.parents)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Order = %v, %v; want an error naming %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tb := range got {
				names = append(names, tb.Name)
			}
			if strings.Join(names, " ") != tt.want {
				t.Errorf("Order = %v; want %s", names, tt.want)
			}
		})
	}
}

func TestCheckValue(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind Kind
		v    any
		ok   bool
	}{
		{Int, int64(1), true}, {Int, nil, true}, {Int, "1", false},
		{Text, "x", true}, {Text, []byte("x"), false},
		{Blob, []byte("x"), true}, {Blob, int64(1), false}, {Text, 1.5, false},
	}
	for _, tt := range tests {
		if err := CheckValue(tt.kind, tt.v); (err == nil) != tt.ok {
			t.Errorf("CheckValue(%s, %#v) = %v; want ok=%v", tt.kind, tt.v, err, tt.ok)
		}
	}
}
