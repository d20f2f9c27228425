package pipeline

import (
	"strings"

	"github.com/berthdev/berth/internal/spec"
)

// decodeOptions adapts internal/spec's strict YAML walker, which reports
// every problem with field paths, lines and did-you-mean hints, to the
// pipeline file.
var decodeOptions = spec.DecodeOptions{
	DurationExample: `"30s", "10m" or "1h30m"`,
	DurationUnit:    "m",
	// Top-level x- keys hold anchors to share (x-go: &go ...).
	SkipKey: func(path, key string) bool { return path == "" && strings.HasPrefix(key, "x-") },
}
