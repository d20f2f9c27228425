package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Parse reads a berth.yaml (or the same document as JSON, which is YAML),
// applies defaults and validates it. On any problem it returns a
// *ValidationError listing every problem found, each with its field path
// and line. It refuses a pipeline section: readers that accept one call
// ParseWith with pipeline.SpecOptions.
func Parse(data []byte) (*App, error) {
	return ParseWith(data, ParseOptions{})
}

// ParseWith is Parse with the readers of sections other packages own.
func ParseWith(data []byte, opts ParseOptions) (*App, error) {
	root, problems := parseYAML(data)
	if len(problems) > 0 {
		return nil, &ValidationError{Problems: problems}
	}
	d := newDecoder(root)
	app := &App{}
	d.value(root, reflect.ValueOf(app).Elem(), "")
	if d.exhausted {
		// The app is only partly read; checking it would report noise.
		return nil, &ValidationError{Problems: capProblems(d.problems)}
	}
	d.readPipeline(app, opts.Pipeline)
	app.SetDefaults()
	v := &validator{dec: d}
	v.app(app)
	all := append(d.problems, v.problems...)
	if len(all) > 0 {
		sortProblems(all)
		return nil, &ValidationError{Problems: capProblems(all)}
	}
	return app, nil
}

// MaxProblems is how many problems a ValidationError from Parse lists; a
// generated or hostile document can have millions, and nobody reads past the
// first screens.
const MaxProblems = 200

func capProblems(ps []Problem) []Problem {
	if len(ps) <= MaxProblems {
		return ps
	}
	more := len(ps) - MaxProblems
	return append(ps[:MaxProblems:MaxProblems], Problem{Message: fmt.Sprintf("... and %d more problems", more)})
}

// parseYAML returns the top mapping of the single document in data, or the
// problems that stop it being one.
func parseYAML(data []byte) (root *yaml.Node, problems []Problem) {
	defer func() {
		// yaml.v3 is third-party code fed arbitrary input; a bug there must
		// become an error for this input, not take the server down.
		if r := recover(); r != nil {
			root = nil
			problems = []Problem{{Message: fmt.Sprintf("cannot parse YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(fromJSON(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, []Problem{emptyDocument}
		}
		return nil, []Problem{syntaxProblem(err)}
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, []Problem{syntaxProblem(err)}
	default:
		return nil, []Problem{{Message: "found a second YAML document (---); a berth.yaml holds one app", Line: extra.Line}}
	}
	root = &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, []Problem{emptyDocument}
		}
		root = root.Content[0]
	}
	if r := resolve(root); r == nil || isNull(r) {
		return nil, []Problem{emptyDocument}
	} else if r.Kind != yaml.MappingNode {
		return nil, []Problem{{Message: "expected a mapping with name and services at the top of the document, got " + describe(r), Line: r.Line}}
	}
	return root, nil
}

var emptyDocument = Problem{Message: "the document is empty; expected a mapping with name and services", Line: 1}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxProblem turns a yaml.v3 error ("yaml: line 3: did not find expected
// key") into a Problem with the line split out.
func syntaxProblem(err error) Problem {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{Message: "invalid YAML: " + m[2], Line: line}
	}
	return Problem{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}
