package spec

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/berth.schema.json from Schema()")

var schemaFile = filepath.Join("..", "..", "docs", "berth.schema.json")

func TestSchemaFile(t *testing.T) {
	got, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run: go test ./internal/spec -run TestSchemaFile -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is stale; run: go test ./internal/spec -run TestSchemaFile -update", schemaFile)
	}
}

func TestSchemaShape(t *testing.T) {
	t.Parallel()
	b, err := Schema()
	if err != nil {
		t.Fatal(err)
	}
	var s map[string]any
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if s["$schema"] != "https://json-schema.org/draft/2020-12/schema" || s["additionalProperties"] != false {
		t.Errorf("root = %v", s)
	}
	defs := s["$defs"].(map[string]any)
	svc := defs["Service"].(map[string]any)
	props := svc["properties"].(map[string]any)
	if _, ok := props["depends_on"]; !ok || svc["additionalProperties"] != false {
		t.Errorf("Service schema = %v", svc)
	}
	ports := props["ports"].(map[string]any)["items"].(map[string]any)
	if len(ports["oneOf"].([]any)) != 2 {
		t.Errorf("ports items = %v", ports)
	}
	replicas := props["replicas"].(map[string]any)
	if replicas["default"] != float64(1) || replicas["maximum"] != float64(100) {
		t.Errorf("replicas = %v", replicas)
	}
}

// Every field has a description, and every description belongs to a field.
func TestSchemaDocs(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	var walk func(reflect.Type)
	walk = func(t2 reflect.Type) {
		for t2.Kind() == reflect.Pointer || t2.Kind() == reflect.Slice || t2.Kind() == reflect.Map {
			t2 = t2.Elem()
		}
		if t2.Kind() != reflect.Struct || t2 == durationType {
			return
		}
		for i := range t2.NumField() {
			key := t2.Name() + "." + jsonName(t2.Field(i))
			if seen[key] {
				continue
			}
			seen[key] = true
			if fieldDocs[key].Desc == "" {
				t.Errorf("fieldDocs[%q] has no description", key)
			}
			walk(t2.Field(i).Type)
		}
	}
	walk(reflect.TypeFor[App]())
	for key := range fieldDocs {
		if !seen[key] {
			t.Errorf("fieldDocs[%q] names no field", key)
		}
	}
}
