package spec_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/berthdev/berth/internal/pipeline"
	"github.com/berthdev/berth/internal/spec"
)

// sectionApp is a valid app with source and the given pipeline section
// lines (indented under "pipeline:").
func sectionApp(source, section string) string {
	return "name: shop\n" + source + "services:\n  web: {command: [x]}\npipeline:\n" + section
}

const gitSource = "source: {git: https://h/r.git}\n"

func TestPipelineSectionInvalid(t *testing.T) {
	t.Parallel()
	type want struct {
		path, msg string
		line      int
	}
	tests := []struct {
		desc string
		yaml string
		want []want
	}{
		{
			desc: "unknown step in needs",
			yaml: sectionApp(gitSource, "  on: [push]\n  steps:\n    - {name: test, run: t}\n    - {name: build, run: b}\n    - {name: ship, run: s, needs: [biuld]}\n"),
			want: []want{{"pipeline.steps[2].needs[0]", `unknown step "biuld"; did you mean "build"?`, 10}},
		},
		{
			desc: "unknown field with a hint",
			yaml: sectionApp(gitSource, "  on: [push]\n  steps:\n    - name: test\n      rnu: t\n"),
			want: []want{{"pipeline.steps[0].rnu", `did you mean "run"?`, 9}, {"pipeline.steps[0]", "exactly one of", 0}},
		},
		{
			desc: "cycle",
			yaml: sectionApp(gitSource, "  on: [manual]\n  steps:\n    - {name: a, run: a, needs: [b]}\n    - {name: b, run: b, needs: [a]}\n"),
			want: []want{{"pipeline.steps", "cycle", 0}},
		},
		{
			desc: "no steps, bad event",
			yaml: sectionApp(gitSource, "  on: [pusher]\n"),
			want: []want{{"pipeline.on[0]", "pusher", 0}, {"pipeline.steps", "at least one step", 0}},
		},
		{
			desc: "not a mapping",
			yaml: sectionApp(gitSource, "  - test\n"),
			want: []want{{"pipeline", "expected a mapping with on and steps", 0}},
		},
		{
			desc: "empty",
			yaml: sectionApp(gitSource, ""),
			want: []want{{"pipeline", "expected a mapping with on and steps", 0}},
		},
		{
			desc: "with source.pipeline",
			yaml: sectionApp("source: {git: https://h/r.git, pipeline: ci/p.yaml}\n", "  on: [push]\n  steps: [{name: t, run: t}]\n"),
			want: []want{{"pipeline", `cannot be used together with source.pipeline (the pipeline file's path, "ci/p.yaml")`, 0}},
		},
		{
			desc: "with source.pipeline and a bad section: both said",
			yaml: sectionApp("source: {git: https://h/r.git, pipeline: ci/p.yaml}\n", "  on: [push]\n  steps: [{name: t, run: t, timeout: 10}]\n"),
			want: []want{{"pipeline.steps[0].timeout", "add a unit", 0}, {"pipeline", "together with source.pipeline", 0}},
		},
		{
			desc: "without source",
			yaml: sectionApp("", "  on: [push]\n  steps: [{name: t, run: t}]\n"),
			want: []want{{"pipeline", "needs source.git", 0}},
		},
		{
			desc: "a problem elsewhere is listed too",
			yaml: strings.Replace(sectionApp(gitSource, "  on: [push]\n  steps: [{name: t, rn: t}]\n"), "command: [x]", "command: [x], replicas: -1", 1),
			want: []want{{"services.web.replicas", "", 0}, {"pipeline.steps[0].rn", "unknown field", 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			_, err := spec.ParseWith([]byte(tt.yaml), pipeline.SpecOptions)
			var ve *spec.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, spec.ErrInvalid) {
				t.Fatalf("err = %v, want a *spec.ValidationError", err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range ve.Problems {
					if p.Path == w.path && strings.Contains(p.Message, w.msg) && (w.line == 0 || p.Line == w.line) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem %s: %q (line %d) in\n%v", w.path, w.msg, w.line, ve.Problems)
				}
			}
		})
	}
}

func TestPipelineSectionValid(t *testing.T) {
	t.Parallel()
	yaml := sectionApp(gitSource, `  on: [push, manual]
  steps:
    - {name: test, run: go test ./...}
    - {name: build, needs: [test], run: go build ./..., artifacts: [bin/]}
    - {name: tell, notify: {url: "https://chat.example.com/x"}}
`)
	app, err := spec.ParseWith([]byte(yaml), pipeline.SpecOptions)
	if err != nil {
		t.Fatal(err)
	}
	canonical, err := app.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	p, err := pipeline.FromSpec(canonical)
	if err != nil || p == nil {
		t.Fatalf("FromSpec = %v, %v", p, err)
	}
	if len(p.Steps) != 3 || p.Steps[1].Needs[0] != "test" || p.Steps[2].Notify.On == nil || p.Steps[0].Timeout == 0 {
		t.Errorf("section read as %+v; want three steps with defaults", p.Steps)
	}
	// The canonical spec parses again to the same bytes (releases hash it).
	again, err := spec.ParseWith(canonical, pipeline.SpecOptions)
	if err != nil {
		t.Fatalf("canonical spec does not parse again: %v\n%s", err, canonical)
	}
	c2, _ := again.Canonical()
	if string(c2) != string(canonical) {
		t.Errorf("canonical changed on a second parse:\n%s\n%s", canonical, c2)
	}
	// A spec without a section has no pipeline key, so its canonical bytes
	// (and release hash) are what they were before sections existed.
	plain, err := spec.Parse([]byte("name: shop\nservices:\n  web: {command: [x]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := plain.Canonical()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["pipeline"]; ok {
		t.Errorf("canonical spec without a section has a pipeline key: %s", b)
	}
	if p, err := pipeline.FromSpec(b); p != nil || err != nil {
		t.Errorf("FromSpec(no section) = %v, %v; want nil, nil", p, err)
	}
}

// Parse without a section reader refuses a section rather than keep one
// nobody checked.
func TestPipelineSectionNeedsReader(t *testing.T) {
	t.Parallel()
	_, err := spec.Parse([]byte(sectionApp(gitSource, "  on: [push]\n  steps: [{name: t, run: t}]\n")))
	var ve *spec.ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "pipeline" {
		t.Fatalf("err = %v; want one problem at pipeline", err)
	}
}
