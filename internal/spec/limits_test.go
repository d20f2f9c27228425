package spec

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A small document that names a large mapping through many aliases must be
// refused quickly instead of expanding quadratically.
func TestParseAliasExpansionIsBounded(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("name: a\nservices:\n  s0: &s\n    image: x\n    env:\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "      K%d: v\n", i)
	}
	for i := 1; i < 3000; i++ {
		fmt.Fprintf(&b, "  s%d: *s\n", i)
	}
	start := time.Now()
	_, err := Parse([]byte(b.String()))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Parse took %s", took)
	}
	var ve *ValidationError
	if !errors.As(err, &ve) || !strings.Contains(ve.Error(), "too many values through aliases") {
		t.Fatalf("Parse = %.300v", err)
	}

	// Sharing settings by alias in a normal way stays well inside the budget.
	b.Reset()
	b.WriteString("name: a\nshared: &env {A: '1', B: '2', C: '3'}\nservices:\n")
	for i := range 50 {
		fmt.Fprintf(&b, "  s%d: {image: x, env: *env}\n", i)
	}
	_, err = Parse([]byte(b.String()))
	// The key holding the anchor is an unknown field, and that is all.
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "shared" {
		t.Errorf("Parse = %v", err)
	}
}

func TestParseCapsProblems(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("name: a\nservices:\n  s:\n    image: x\n    ports: [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("0")
	}
	b.WriteString("]\n")
	_, err := Parse([]byte(b.String()))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != MaxProblems+1 {
		t.Fatalf("got %d problems", len(ve.Problems))
	}
	if last := ve.Problems[MaxProblems]; last.Message != "... and 800 more problems" {
		t.Errorf("last problem = %+v", last)
	}
}
