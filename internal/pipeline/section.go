package pipeline

import (
	"encoding/json"
	"fmt"

	"github.com/berthdev/berth/internal/spec"
	"gopkg.in/yaml.v3"
)

// SpecOptions lets spec.ParseWith read berth.yaml's pipeline section with
// this package's parser: one parser for the file and the section.
var SpecOptions = spec.ParseOptions{Pipeline: ReadSection}

// ReadSection reads a pipeline section of berth.yaml from its node, with
// the checks Parse makes of a pipeline file, and returns it as JSON with
// defaults applied. Problem paths are relative to the section.
func ReadSection(n *yaml.Node) (json.RawMessage, []spec.Problem) {
	r := spec.ResolveNode(n)
	if r == nil || spec.IsNullNode(r) || r.Kind != yaml.MappingNode {
		line := n.Line
		return nil, []spec.Problem{{Message: "expected a mapping with on and steps (the shape of .berth/pipeline.yaml), got " + spec.DescribeNode(r), Line: line}}
	}
	p, problems := parseNode(r)
	if len(problems) > 0 {
		return nil, problems
	}
	def, err := json.Marshal(p)
	if err != nil {
		return nil, []spec.Problem{{Message: fmt.Sprintf("encoding the pipeline: %v", err), Line: n.Line}}
	}
	return def, nil
}

// FromSpec returns the pipeline section of a stored spec (canonical JSON),
// or nil when it has none.
func FromSpec(specJSON []byte) (*Pipeline, error) {
	var sp struct {
		Pipeline json.RawMessage `json:"pipeline"`
	}
	if err := json.Unmarshal(specJSON, &sp); err != nil {
		return nil, fmt.Errorf("pipeline: reading the spec: %w", err)
	}
	if len(sp.Pipeline) == 0 || string(sp.Pipeline) == "null" {
		return nil, nil
	}
	var p Pipeline
	if err := json.Unmarshal(sp.Pipeline, &p); err != nil {
		return nil, fmt.Errorf("pipeline: reading berth.yaml's pipeline section: %w", err)
	}
	// Parse checked it when it was applied; the rules may have grown since.
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("berth.yaml's pipeline section: %w", err)
	}
	return &p, nil
}

// SectionSource is where a definition read from berth.yaml's pipeline
// section came from, as runs and `berth pipeline show` say it.
const SectionSource = "berth.yaml"
