package pipeline

import (
	"fmt"
	"sort"

	"github.com/berthdev/berth/internal/spec"
	"gopkg.in/yaml.v3"
)

// MaxSize is the largest pipeline file Parse reads; real ones are a few
// kilobytes, and the file comes from any repository a webhook names.
const MaxSize = 256 << 10

// MaxProblems is how many problems one error lists.
const MaxProblems = 200

// Parse reads a .berth/pipeline.yaml, applies defaults and validates it. On
// any problem it returns a *spec.ValidationError listing every problem, each
// with its field path and line, so errors.Is(err, spec.ErrInvalid) holds and
// the CLI and API show it as they show berth.yaml problems.
func Parse(data []byte) (*Pipeline, error) {
	if len(data) > MaxSize {
		return nil, &spec.ValidationError{Problems: []spec.Problem{{
			Message: fmt.Sprintf("the file is %d bytes; a pipeline file may be at most %d", len(data), MaxSize),
		}}}
	}
	root, problems := parseYAML(data)
	if len(problems) > 0 {
		return nil, &spec.ValidationError{Problems: problems}
	}
	p, all := parseNode(root)
	if len(all) > 0 {
		return nil, &spec.ValidationError{Problems: all}
	}
	return p, nil
}

// parseNode decodes, defaults and validates the pipeline mapping root: a
// file's top or berth.yaml's pipeline section. The problems come sorted
// and capped.
func parseNode(root *yaml.Node) (*Pipeline, []spec.Problem) {
	p := &Pipeline{}
	d := spec.DecodeStrict(root, p, decodeOptions)
	if d.Exhausted() {
		// Only part of the pipeline was read; checking it would be noise.
		return nil, capProblems(d.Problems())
	}
	p.SetDefaults()
	v := &validator{dec: d}
	v.pipeline(p)
	all := append(d.Problems(), v.problems...)
	if len(all) > 0 {
		sortProblems(all)
		return nil, capProblems(all)
	}
	return p, nil
}

// Validate checks a Pipeline built in code (Parse has already validated
// what it returns). Defaults are not applied; call SetDefaults first.
func (p *Pipeline) Validate() error {
	v := &validator{}
	v.pipeline(p)
	if len(v.problems) > 0 {
		return &spec.ValidationError{Problems: capProblems(v.problems)}
	}
	return nil
}

func capProblems(ps []spec.Problem) []spec.Problem {
	if len(ps) <= MaxProblems {
		return ps
	}
	more := len(ps) - MaxProblems
	return append(ps[:MaxProblems:MaxProblems], spec.Problem{Message: fmt.Sprintf("... and %d more problems", more)})
}

// sortProblems orders problems by line, problems without a line last,
// keeping the order found among equals, so output is deterministic.
func sortProblems(ps []spec.Problem) {
	key := func(p spec.Problem) int {
		if p.Line == 0 {
			return int(^uint(0) >> 1)
		}
		return p.Line
	}
	sort.SliceStable(ps, func(i, j int) bool { return key(ps[i]) < key(ps[j]) })
}
