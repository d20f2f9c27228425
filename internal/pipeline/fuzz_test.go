package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/berthdev/berth/internal/spec"
)

// FuzzParse checks that Parse never panics, that every failure is a
// non-empty *spec.ValidationError whose problems have messages, and that an
// accepted pipeline, written back as JSON (which is YAML), parses again to
// the same pipeline.
//
//	go test ./internal/pipeline -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "[]", "on: [push]\nsteps: [{name: a, run: x}]",
		"a: &a {<<: *a}",
		"on: [push]\nsteps:\n  - &s {name: a, run: x, needs: [b]}\n  - {<<: *s, name: b, needs: [a]}\n",
		"on: [schedule]\nschedule: '*/0 * * * *'\nsteps: [{name: a, approval: {users: [x]}}]",
		"on: [push]\nsteps: [{name: a, run: x, when: {paths: ['[', '!**']}}]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			var ve *spec.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error is not a non-empty *spec.ValidationError: %#v", err)
			}
			for _, pr := range ve.Problems {
				if pr.Message == "" {
					t.Fatalf("problem without message: %+v", pr)
				}
			}
			return
		}
		j1, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		q, err := Parse(j1)
		if err != nil {
			t.Fatalf("accepted pipeline does not parse back from %s: %v", j1, err)
		}
		j2, _ := json.Marshal(q)
		if string(j1) != string(j2) {
			t.Fatalf("round trip changed the pipeline:\n%s\n%s", j1, j2)
		}
	})
}
