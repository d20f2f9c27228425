package spec

import (
	"encoding/json"
	"strings"

	"gopkg.in/yaml.v3"
)

// SectionReader reads the pipeline section of berth.yaml from its node: the
// section as canonical JSON, or its problems with paths relative to the
// section (steps[2].needs) and the lines of berth.yaml.
type SectionReader func(n *yaml.Node) (json.RawMessage, []Problem)

// ParseOptions carries the readers of the sections of berth.yaml that
// other packages own. The pipeline section has the shape of the pipeline
// file, which package pipeline parses; that package imports this one, so
// it hands its reader in (pipeline.SpecOptions) rather than this package
// keeping a second parser.
type ParseOptions struct {
	// Pipeline reads a pipeline section; nil refuses one.
	Pipeline SectionReader
}

// PipelineSection is the berth.yaml field holding the pipeline, as runs and
// `berth pipeline show` name where a definition came from.
const PipelineSection = "pipeline"

// readPipeline hands the pipeline section, if written, to read and keeps
// its canonical JSON on app; its problems are reported under "pipeline".
func (d *decoder) readPipeline(app *App, read SectionReader) {
	n, ok := d.sections[PipelineSection]
	if !ok {
		return
	}
	if read == nil {
		d.fail(PipelineSection, n.Line, "a pipeline section is not read here; use .berth/pipeline.yaml in the repository")
		return
	}
	def, problems := read(n)
	for _, p := range problems {
		p.Path = sectionPath(p.Path)
		d.problems = append(d.problems, p)
	}
	if len(problems) == 0 {
		app.Pipeline = def
	}
}

// sectionPath prefixes a path within the section with the section's field.
func sectionPath(p string) string {
	switch {
	case p == "":
		return PipelineSection
	case strings.HasPrefix(p, "["):
		return PipelineSection + p
	}
	return PipelineSection + "." + p
}

// pipelineSection checks what the section means for the rest of the spec:
// runs check out source.git and run the steps there, and take the
// definition from the section, never from source.pipeline's file.
func (v *validator) pipelineSection(a *App) {
	if v.dec == nil {
		if a.Pipeline == nil {
			return
		}
	} else if _, ok := v.dec.sections[PipelineSection]; !ok {
		return
	}
	if a.Source == nil || a.Source.Git == "" {
		v.add(PipelineSection, "needs source.git: runs check out the app's repository and run the steps in it")
	}
	if a.Source != nil && a.Source.Pipeline != "" {
		v.add(PipelineSection, "cannot be used together with source.pipeline (the pipeline file's path, %s): runs take the pipeline from this section and would never read the file; remove one of the two", quoteShort(a.Source.Pipeline))
	}
}
