package pipeline

import "github.com/berthdev/berth/internal/spec"

// Field paths look like steps[2].when.branches[0], built as berth.yaml's are
// so problems from both files read the same.

func join(path, key string) string { return spec.JoinPath(path, key) }

func index(path string, i int) string { return spec.IndexPath(path, i) }
