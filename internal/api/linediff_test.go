package api

import "testing"

func TestUnifiedDiff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		desc, a, b, want string
	}{
		{desc: "equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{desc: "from empty", a: "", b: "x\ny\n", want: "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+x\n+y\n"},
		{desc: "to empty", a: "x\n", b: "", want: "--- a\n+++ b\n@@ -1 +0,0 @@\n-x\n"},
		{desc: "change in the middle", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n", b: "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			want: "--- a\n+++ b\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{desc: "two hunks", a: "a\n1\n2\n3\n4\n5\n6\n7\nb\n", b: "A\n1\n2\n3\n4\n5\n6\n7\nB\n",
			want: "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -6,4 +6,4 @@\n 5\n 6\n 7\n-b\n+B\n"},
		{desc: "close changes merge", a: "a\n1\n2\n3\nb\n", b: "A\n1\n2\n3\nB\n",
			want: "--- a\n+++ b\n@@ -1,5 +1,5 @@\n-a\n+A\n 1\n 2\n 3\n-b\n+B\n"},
		{desc: "insertion keeps common lines", a: "x\nz\n", b: "x\ny\nz\n",
			want: "--- a\n+++ b\n@@ -1,2 +1,3 @@\n x\n+y\n z\n"},
		{desc: "no newline at end", a: "x\n", b: "x",
			want: "--- a\n+++ b\n@@ -1 +1 @@\n-x\n+x\n\\ No newline at end of file\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			t.Parallel()
			if got := unifiedDiff("a", "b", tc.a, tc.b); got != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestLCSFindsLongestCommon(t *testing.T) {
	t.Parallel()
	// Greedy matching would keep "c" only; the LCS keeps a, b and d.
	ops := diffLines(splitLines("a\nb\nc\nd\n"), splitLines("c\na\nb\nd\n"))
	equal := 0
	for _, o := range ops {
		if o.kind == opEqual {
			equal++
		}
	}
	if equal != 3 {
		t.Fatalf("%d equal lines, want 3: %+v", equal, ops)
	}
}
