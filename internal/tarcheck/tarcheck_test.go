package tarcheck

import "testing"

func TestName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"a/b", "a/b", true},
		{"a/./b/", "a/b", true},
		{"./", ".", true},
		{"", "", false},
		{"/etc/passwd", "", false},
		{"..", "", false},
		{"../x", "", false},
		{"a/../../x", "", false},
		{"a/../b", "", false}, // cancels out, still refused
		{"a\\..\\x", "", false},
		{"a\x00b", "", false},
	}
	for _, tt := range tests {
		got, err := Name(tt.name)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("Name(%q) = %q, %v; want %q, ok %v", tt.name, got, err, tt.want, tt.ok)
		}
	}
}

func TestBudget(t *testing.T) {
	t.Parallel()
	b := Budget{Max: 10}
	for _, step := range []struct {
		size int64
		ok   bool
	}{{4, true}, {6, true}, {1, false}, {0, true}, {-1, false}} {
		if err := b.Take(step.size); (err == nil) != step.ok {
			t.Errorf("Take(%d) = %v, want ok %v", step.size, err, step.ok)
		}
	}
	huge := Budget{Max: 1 << 62}
	if err := huge.Take(1 << 62); err != nil {
		t.Fatal(err)
	}
	if err := huge.Take(1 << 62); err == nil {
		t.Error("a sum past the cap (that would overflow) was taken")
	}
}
