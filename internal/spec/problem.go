package spec

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a spec: the field path
// ("services.api.ports[0].port"), what is wrong with it, and the line in the
// YAML source (0 when unknown, e.g. for an App built in code).
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError holds every problem found in a spec, so a user fixes them
// all in one go rather than one per attempt.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems one per line as "path: message".
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalid) true for every ValidationError.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Detailed lists the problems one per line as "file:line: path: message",
// the form editors and terminals turn into links. file may be empty.
func (e *ValidationError) Detailed(file string) string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		switch {
		case file != "" && p.Line > 0:
			fmt.Fprintf(&b, "%s:%d: ", file, p.Line)
		case file != "":
			fmt.Fprintf(&b, "%s: ", file)
		case p.Line > 0:
			fmt.Fprintf(&b, "line %d: ", p.Line)
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// sortProblems orders problems by line, keeping the order they were found in
// among equal lines; problems without a line go last. Stable order makes the
// output (and tests) deterministic.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		li, lj := ps[i].Line, ps[j].Line
		if li == 0 {
			li = int(^uint(0) >> 1)
		}
		if lj == 0 {
			lj = int(^uint(0) >> 1)
		}
		return li < lj
	})
}
