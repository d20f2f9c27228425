package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/berthdev/berth/internal/pipeline"

	"github.com/berthdev/berth/internal/spec"
	"github.com/berthdev/berth/pkg/api"
)

// parsedSpec is a spec that passed validation, in its canonical JSON form.
type parsedSpec struct {
	app       *spec.App
	canonical []byte
}

// parseSpec parses and validates spec text (YAML or JSON). A spec that
// fails answers 422 with every problem as a detail.
func parseSpec(text string) (parsedSpec, error) {
	if text == "" {
		return parsedSpec{}, invalidField("spec", "required: the berth.yaml text")
	}
	app, err := spec.ParseWith([]byte(text), pipeline.SpecOptions)
	if err != nil {
		return parsedSpec{}, specError(err)
	}
	canonical, err := app.Canonical()
	if err != nil {
		return parsedSpec{}, fmt.Errorf("canonical spec: %w", err)
	}
	return parsedSpec{app: app, canonical: canonical}, nil
}

// specError maps the spec package's errors to a 422 naming every field.
func specError(err error) error {
	var ve *spec.ValidationError
	if !errors.As(err, &ve) {
		return invalidField("spec", "%v", err)
	}
	he := newError(http.StatusUnprocessableEntity, api.CodeInvalid, "the spec is invalid: %s", problemCount(len(ve.Problems)))
	details := make([]api.FieldError, 0, len(ve.Problems))
	for _, p := range ve.Problems {
		details = append(details, api.FieldError{Field: p.Path, Message: p.Message, Line: p.Line})
	}
	return he.withDetails(details...)
}

func problemCount(n int) string {
	if n == 1 {
		return "1 problem"
	}
	return fmt.Sprintf("%d problems", n)
}
