package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const tinySpec = "name: tiny\nservices:\n  t: {command: [./t]}\n"

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	yamlDir := t.TempDir()
	write(t, filepath.Join(yamlDir, "berth.yaml"), tinySpec)
	ymlDir := t.TempDir()
	write(t, filepath.Join(ymlDir, "berth.yml"), tinySpec)
	otherFile := filepath.Join(t.TempDir(), "custom.yaml")
	write(t, otherFile, tinySpec)

	tests := []struct {
		desc, path, dir string
	}{
		{desc: "folder with berth.yaml", path: yamlDir, dir: yamlDir},
		{desc: "folder with berth.yml", path: ymlDir, dir: ymlDir},
		{desc: "file", path: otherFile, dir: filepath.Dir(otherFile)},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			t.Parallel()
			a, raw, dir, err := Load(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if a.Name != "tiny" || string(raw) != tinySpec || dir != tt.dir {
				t.Errorf("Load = %q, %q, %q", a.Name, raw, dir)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	empty := t.TempDir()
	both := t.TempDir()
	write(t, filepath.Join(both, "berth.yaml"), tinySpec)
	write(t, filepath.Join(both, "berth.yml"), tinySpec)
	bad := t.TempDir()
	write(t, filepath.Join(bad, "berth.yaml"), "name: x\n")

	_, _, _, err := Load(empty)
	if !errors.Is(err, ErrNoSpec) || !strings.Contains(err.Error(), "no berth.yaml or berth.yml in "+empty) {
		t.Errorf("empty folder: %v", err)
	}
	_, _, _, err = Load(filepath.Join(empty, "missing.yaml"))
	if !errors.Is(err, ErrNoSpec) || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: %v", err)
	}
	_, _, _, err = Load(both)
	if err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Errorf("both files: %v", err)
	}
	a, raw, dir, err := Load(bad)
	var ve *ValidationError
	if !errors.As(err, &ve) || a != nil || string(raw) != "name: x\n" || dir != bad {
		t.Errorf("invalid spec: %v, %v, %q, %q", a, err, raw, dir)
	}
}
