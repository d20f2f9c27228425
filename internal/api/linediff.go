package api

import (
	"fmt"
	"strings"
)

// unifiedDiff returns a unified diff (3 lines of context) turning a into b,
// "" when they are equal. Lines are compared whole; the longest common
// subsequence decides what is kept.
func unifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	ops := diffLines(splitLines(a), splitLines(b))
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	for _, h := range hunks(ops, 3) {
		writeHunk(&out, ops[h.start:h.end])
	}
	return out.String()
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // s ended with a newline
	}
	return lines
}

type opKind byte

const (
	opEqual  opKind = ' '
	opDelete opKind = '-'
	opInsert opKind = '+'
)

// op is one line of the edit script, with its 1-based line numbers in a
// and b (the number the line has, or would have, in each).
type op struct {
	kind         opKind
	line         string
	aLine, bLine int
}

// maxLCSCells bounds the LCS table; beyond it (specs of tens of thousands of
// changed lines) the middle is shown as all removed, then all added, which
// is still a correct diff.
const maxLCSCells = 4 << 20

func diffLines(a, b []string) []op {
	// Common prefix and suffix need no table and are most of a typical diff.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops := make([]op, 0, len(a)+len(b))
	ai, bi := 0, 0
	emit := func(k opKind) {
		switch k {
		case opEqual:
			ops = append(ops, op{kind: k, line: a[ai], aLine: ai + 1, bLine: bi + 1})
			ai++
			bi++
		case opDelete:
			ops = append(ops, op{kind: k, line: a[ai], aLine: ai + 1, bLine: bi + 1})
			ai++
		case opInsert:
			ops = append(ops, op{kind: k, line: b[bi], aLine: ai + 1, bLine: bi + 1})
			bi++
		}
	}
	for range pre {
		emit(opEqual)
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	for _, k := range lcsScript(ma, mb) {
		emit(k)
	}
	for range suf {
		emit(opEqual)
	}
	return ops
}

// lcsScript returns the edit steps turning a into b, deletions before
// insertions where both are possible (the order diff(1) prints).
func lcsScript(a, b []string) []opKind {
	n, m := len(a), len(b)
	script := make([]opKind, 0, n+m)
	if n*m > maxLCSCells || n == 0 || m == 0 {
		for range n {
			script = append(script, opDelete)
		}
		for range m {
			script = append(script, opInsert)
		}
		return script
	}
	// l[i][j] is the LCS length of a[i:] and b[j:].
	l := make([][]int32, n+1)
	for i := range l {
		l[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				l[i][j] = l[i+1][j+1] + 1
			} else {
				l[i][j] = max(l[i+1][j], l[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			script = append(script, opEqual)
			i++
			j++
		case l[i+1][j] >= l[i][j+1]:
			script = append(script, opDelete)
			i++
		default:
			script = append(script, opInsert)
			j++
		}
	}
	for ; i < n; i++ {
		script = append(script, opDelete)
	}
	for ; j < m; j++ {
		script = append(script, opInsert)
	}
	return script
}

type span struct{ start, end int }

// hunks groups changed ops with up to ctx equal lines around them, merging
// groups whose context would touch.
func hunks(ops []op, ctx int) []span {
	var out []span
	for i := 0; i < len(ops); i++ {
		if ops[i].kind == opEqual {
			continue
		}
		start := max(i-ctx, 0)
		end := i + 1
		// Extend while the next change is within 2*ctx equal lines.
		for j := end; j < len(ops); j++ {
			if ops[j].kind != opEqual {
				end = j + 1
				continue
			}
			if j-end >= 2*ctx {
				break
			}
		}
		end = min(end+ctx, len(ops))
		if len(out) > 0 && start <= out[len(out)-1].end {
			out[len(out)-1].end = end
		} else {
			out = append(out, span{start, end})
		}
		i = end - 1
	}
	return out
}

func writeHunk(out *strings.Builder, ops []op) {
	var aCount, bCount int
	for _, o := range ops {
		if o.kind != opInsert {
			aCount++
		}
		if o.kind != opDelete {
			bCount++
		}
	}
	aStart, bStart := ops[0].aLine, ops[0].bLine
	// diff(1) numbers an empty range by the line before it.
	if aCount == 0 {
		aStart--
	}
	if bCount == 0 {
		bStart--
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(aStart, aCount), hunkRange(bStart, bCount))
	for _, o := range ops {
		out.WriteByte(byte(o.kind))
		out.WriteString(o.line)
		if !strings.HasSuffix(o.line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(start, count int) string {
	if count == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, count)
}
