package spec

import (
	"reflect"

	"gopkg.in/yaml.v3"
)

// DecodeOptions adapts the strict decoder that reads berth.yaml to another
// document (a pipeline file) so both share one walker: the same messages,
// field paths, line numbers, duplicate-key, merge-key and alias handling.
type DecodeOptions struct {
	// DurationExample replaces `"5s" or "1m30s"` in duration errors, and
	// DurationUnit the "s" suggested for a bare number.
	DurationExample, DurationUnit string
	// SkipKey, when set, ignores a struct key that is not a field instead
	// of reporting it as unknown (e.g. top-level x- extension keys).
	SkipKey func(path, key string) bool
}

// Decoded is the outcome of DecodeStrict: the problems found and, for
// validation, where each field was written and which failed to decode.
type Decoded struct{ d *decoder }

// DecodeStrict fills target (a pointer to a struct) from root by reflection
// over json tags, collecting every problem instead of stopping at the first.
func DecodeStrict(root *yaml.Node, target any, opts DecodeOptions) *Decoded {
	d := newDecoder(root)
	d.opts = opts
	d.value(root, reflect.ValueOf(target).Elem(), "")
	return &Decoded{d: d}
}

// Problems returns the problems found while decoding.
func (r *Decoded) Problems() []Problem { return r.d.problems }

// Exhausted reports whether the walk stopped early because aliases expanded
// the document too far; the target is then only partly filled.
func (r *Decoded) Exhausted() bool { return r.d.exhausted }

// IsFailed reports whether path or one of its ancestors failed to decode.
func (r *Decoded) IsFailed(path string) bool { return r.d.isFailed(path) }

// LineOf returns the line of path, or of its nearest ancestor that has one.
func (r *Decoded) LineOf(path string) int { return r.d.lineOf(path) }

// JoinPath appends key to a field path (services.api, env["A.B"]).
func JoinPath(path, key string) string { return join(path, key) }

// IndexPath appends a list index to a field path (steps[2]).
func IndexPath(path string, i int) string { return index(path, i) }

// ResolveNode follows an alias to the node it names, or returns nil for a
// chain of aliases too long to be anything but hostile.
func ResolveNode(n *yaml.Node) *yaml.Node { return resolve(n) }

// IsNullNode reports whether n is a YAML null.
func IsNullNode(n *yaml.Node) bool { return isNull(n) }

// DescribeNode says what a node is, for "expected X, got Y" messages.
func DescribeNode(n *yaml.Node) string { return describeMaybe(n) }
