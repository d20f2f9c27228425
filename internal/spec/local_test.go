package spec

import (
	"errors"
	"testing"
)

func TestCheckLocal(t *testing.T) {
	t.Parallel()
	a, err := Parse([]byte(`name: a
services:
  both: {command: [x], image: y}
  imageonly: {image: y}
  scaledown: {image: y, replicas: 0}
`))
	if err != nil {
		t.Fatal(err)
	}
	err = a.CheckLocal()
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Path != "services.imageonly.command" {
		t.Fatalf("CheckLocal = %v", err)
	}
	if err := mustParseFile(t, "shop.yaml").CheckLocal(); err != nil {
		t.Errorf("shop: %v", err)
	}
}
