package pipeline

import "testing"

func TestWhenMatch(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc string
		when *When
		trig Trigger
		want bool
		why  string
	}{
		{desc: "nil when", when: nil, trig: Trigger{Event: EventPush, Branch: "x"}, want: true},
		{desc: "branch glob", when: &When{Branches: []string{"main", "release/*"}}, trig: Trigger{Event: EventPush, Branch: "release/2"}, want: true},
		{desc: "branch miss", when: &When{Branches: []string{"main"}}, trig: Trigger{Event: EventPush, Branch: "dev"}, why: "branch dev matches none of when.branches [main]"},
		{desc: "tag only list refuses branches", when: &When{Tags: []string{"v*"}}, trig: Trigger{Event: EventPush, Branch: "main"}, why: "branch main: the step runs only for tags [v*]"},
		{desc: "branches or tags", when: &When{Branches: []string{"main"}, Tags: []string{"v*"}}, trig: Trigger{Event: EventTag, Tag: "v1"}, want: true},
		{desc: "tag miss", when: &When{Tags: []string{"v*"}}, trig: Trigger{Event: EventTag, Tag: "nightly"}, why: "tag nightly matches none of when.tags [v*]"},
		{desc: "event miss", when: &When{Events: []Event{EventPush}}, trig: Trigger{Event: EventManual}, why: "event manual is not in when.events [push]"},
		{desc: "paths hit", when: &When{Paths: []string{"web/**"}}, trig: Trigger{Event: EventPush, ChangedPaths: []string{"api/x.go", "web/a.ts"}}, want: true},
		{desc: "paths miss", when: &When{Paths: []string{"web/**"}}, trig: Trigger{Event: EventPush, ChangedPaths: []string{"api/x.go"}}, why: "no changed path matches when.paths [web/**]"},
		{desc: "paths unknown match", when: &When{Paths: []string{"web/**"}}, trig: Trigger{Event: EventManual}, want: true},
		{desc: "paths none changed", when: &When{Paths: []string{"**"}}, trig: Trigger{Event: EventPush, ChangedPaths: []string{}}, why: "no changed path matches when.paths [**]"},
		{desc: "exclusion", when: &When{Paths: []string{"web/**", "!web/**/*.md"}}, trig: Trigger{Event: EventPush, ChangedPaths: []string{"web/README.md"}}, why: "no changed path matches when.paths [web/** !web/**/*.md]"},
		{desc: "exclusion then include", when: &When{Paths: []string{"web/**", "!web/**/*.md"}}, trig: Trigger{Event: EventPush, ChangedPaths: []string{"web/README.md", "web/a.ts"}}, want: true},
		{desc: "no ref", when: &When{Branches: []string{"main"}}, trig: Trigger{Event: EventManual}, why: "the run has no branch or tag, and when names some"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			got, why := tt.when.Match(tt.trig)
			if got != tt.want || why != tt.why {
				t.Errorf("Match = %v, %q; want %v, %q", got, why, tt.want, tt.why)
			}
		})
	}
}

func TestExpandCacheKey(t *testing.T) {
	t.Parallel()
	hash := func(p string) (string, error) { return "h-" + p[:2], nil }
	tests := []struct{ key, want, err string }{
		{key: "plain", want: "plain"},
		{key: `go-{{ hash "go.sum" }}`, want: "go-h-go"},
		{key: `a{{hash "x1"}}b{{  hash  "y2" }}`, want: "ah-x1bh-y2"},
		{key: "has space", err: `"has space" holds characters other than letters, digits, '.', '_' and '-' (and {{ hash "file" }})`},
		{key: `{{ hash "../x" }}`, err: `hash: "../x" leaves the checkout through ..`},
		{key: `{{ env "X" }}`, err: `bad template; the only one is {{ hash "path/to/file" }}`},
		{key: "..", err: `".." cannot name a cache`},
	}
	for _, tt := range tests {
		got, err := ExpandCacheKey(tt.key, hash)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("ExpandCacheKey(%q) error = %v, want %q", tt.key, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ExpandCacheKey(%q) = %q, %v; want %q", tt.key, got, err, tt.want)
		}
	}
}
