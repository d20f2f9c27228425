package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/berthdev/berth/internal/spec"
	"gopkg.in/yaml.v3"
)

// parseYAML returns the top mapping of the single document in data, or the
// problems that stop it being one.
func parseYAML(data []byte) (root *yaml.Node, problems []spec.Problem) {
	defer func() {
		// yaml.v3 is third-party code fed input from any repository; a bug
		// there must become a problem with this file, not a crashed server.
		if r := recover(); r != nil {
			root = nil
			problems = []spec.Problem{{Message: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []spec.Problem{emptyDocument}
		}
		return nil, []spec.Problem{syntaxProblem(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, []spec.Problem{syntaxProblem(err)}
	default:
		return nil, []spec.Problem{{Message: "found a second YAML document (---); a pipeline file holds one pipeline", Line: extra.Line}}
	}
	root = &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, []spec.Problem{emptyDocument}
		}
		root = root.Content[0]
	}
	r := spec.ResolveNode(root)
	if r == nil || spec.IsNullNode(r) {
		return nil, []spec.Problem{emptyDocument}
	}
	if r.Kind != yaml.MappingNode {
		return nil, []spec.Problem{{Message: "expected a mapping with on and steps at the top of the document, got " + spec.DescribeNode(r), Line: r.Line}}
	}
	return r, nil
}

var emptyDocument = spec.Problem{Message: "the document is empty; expected a mapping with on and steps", Line: 1}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns "yaml: line 3: did not find expected key" into a
// problem with the line split out.
func syntaxProblem(err error) spec.Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return spec.Problem{Message: "invalid YAML: " + m[2], Line: line}
	}
	return spec.Problem{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
