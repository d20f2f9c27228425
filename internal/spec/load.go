package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileNames are the names Load looks for in a folder, in order.
var FileNames = []string{"berth.yaml", "berth.yml"}

// Load reads and parses the spec at path, which is either the file itself or
// a folder holding berth.yaml (or berth.yml). It returns the app, the raw
// bytes and the absolute folder the spec lives in (service dirs are relative
// to it). A spec that fails validation gives a *ValidationError; use its
// Detailed method with the file name for "file:line:" output.
func Load(path string) (*App, []byte, string, error) {
	return LoadWith(path, ParseOptions{})
}

// LoadWith is Load parsing with ParseWith and opts.
func LoadWith(path string, opts ParseOptions) (*App, []byte, string, error) {
	file, err := findSpec(path)
	if err != nil {
		return nil, nil, "", err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, nil, "", fmt.Errorf("spec: read %s: %w", file, err)
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		return nil, nil, "", fmt.Errorf("spec: %w", err)
	}
	app, err := ParseWith(data, opts)
	if err != nil {
		return nil, data, dir, err
	}
	return app, data, dir, nil
}

// findSpec returns the spec file path names.
func findSpec(path string) (string, error) {
	info, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%w: %s does not exist", ErrNoSpec, path)
		}
		return "", fmt.Errorf("spec: %w", err)
	}
	if !info.IsDir() {
		return path, nil
	}
	var found []string
	for _, name := range FileNames {
		f := filepath.Join(path, name)
		if _, err := os.Stat(f); err == nil {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no berth.yaml or berth.yml in %s", ErrNoSpec, path)
	case 1:
		return found[0], nil
	default:
		return "", fmt.Errorf("spec: both berth.yaml and berth.yml are in %s; keep one", path)
	}
}
