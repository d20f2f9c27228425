package pipeline

import "testing"

func TestMatchGlob(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"main", "main", true},
		{"main", "main2", false},
		{"release/*", "release/1.2", true},
		{"release/*", "release/1.2/hotfix", false},
		{"release/*", "pre-release/1", false},
		{"release/**", "release/1.2/hotfix", true},
		{"**", "a/b/c", true},
		{"**/*.go", "main.go", true},
		{"**/*.go", "cmd/berth/main.go", true},
		{"web/**", "web/src/app.ts", true},
		{"web/**", "webapp/x", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"v?.*", "v1.0", true},
		{"v?.*", "v10.0", false},
		{"v[0-9]*", "v2", true},
		{"v[!0-9]*", "vx", true},
		{"v[!0-9]*", "v2", false},
		{"file\\*", "file*", true},
		{"file\\*", "filex", false},
		{"docs/ü*", "docs/über.md", true},
		{"a.b", "axb", false},
		{"(x)", "(x)", true},
		{"[a-]", "-", true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			t.Parallel()
			if got := MatchGlob(tt.pattern, tt.name); got != tt.want {
				t.Errorf("MatchGlob(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

func TestCompileGlobErrors(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "a[", "a\\", "[z-a]", "\xff", "[]"} {
		if _, err := CompileGlob(p); err == nil {
			t.Errorf("CompileGlob(%q) = nil error", p)
		}
	}
}
