package pipeline

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berthdev/berth/internal/spec"
	"gopkg.in/yaml.v3"
)

// decoder fills the pipeline types from a yaml.Node tree by reflection over
// their json tags. It is written by hand, like internal/spec's, so that it
// reports every problem at once with field paths, lines and did-you-mean
// hints instead of stopping at the first.
type decoder struct {
	problems []spec.Problem
	// failed holds paths that did not decode; validation skips them so one
	// mistake is not reported twice.
	failed map[string]bool
	// lines maps a field path to the line of its key or list item.
	lines map[string]int
	// steps counts values visited: aliases let a small document name a
	// large mapping many times, so the walk stops at limit.
	steps, limit int
	exhausted    bool
}

// aliasBudget is how many values beyond ten per written node a document may
// expand to through aliases.
const aliasBudget = 100_000

// maxMergeDepth bounds nested merge keys (<<), which can refer to themselves.
const maxMergeDepth = 16

var durationType = reflect.TypeFor[spec.Duration]()

func newDecoder(root *yaml.Node) *decoder {
	n, stack := 0, []*yaml.Node{root}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top != nil {
			n++
			stack = append(stack, top.Content...)
		}
	}
	return &decoder{failed: map[string]bool{}, lines: map[string]int{}, limit: aliasBudget + 10*n}
}

func (d *decoder) step() bool {
	d.steps++
	if d.steps <= d.limit {
		return true
	}
	if !d.exhausted {
		d.exhausted = true
		d.report("", 0, "the document expands to too many values through aliases (more than %d); write the repeated parts out", d.limit)
	}
	return false
}

// fail records a problem that makes the value at path unusable.
func (d *decoder) fail(path string, line int, format string, args ...any) {
	d.failed[path] = true
	d.report(path, line, format, args...)
}

// report records a problem next to usable values (an unknown or duplicate key).
func (d *decoder) report(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, spec.Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

func (d *decoder) mark(path string, line int) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// isFailed reports whether path or an ancestor of it failed to decode.
func (d *decoder) isFailed(path string) bool {
	for p := range d.failed {
		if under(path, p) {
			return true
		}
	}
	return false
}

// lineOf returns the line of path or of its nearest ancestor that has one.
func (d *decoder) lineOf(path string) int {
	for p := path; p != ""; {
		if l, ok := d.lines[p]; ok {
			return l
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			break
		}
		p = p[:i]
	}
	return 0
}

func (d *decoder) typeErr(path string, n *yaml.Node, want string) {
	d.fail(path, n.Line, "expected %s, got %s", want, describe(n))
}

// value decodes n into v, reporting problems under path.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil || !d.step() {
		return
	}
	d.mark(path, n.Line)
	if v.Type() == durationType {
		d.duration(n, v, path)
		return
	}
	if isNull(n) {
		// "cache:" with nothing after it still asks for the thing; an empty
		// struct lets validation say what it lacks.
		if v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		d.value(n, p.Elem(), path)
		v.Set(p)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	case reflect.String:
		d.str(n, v, path)
	case reflect.Int:
		d.integer(n, v, path)
	case reflect.Bool:
		d.boolean(n, v, path)
	default:
		d.fail(path, n.Line, "cannot decode into %s", v.Type())
	}
}

func (d *decoder) str(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.typeErr(path, n, "a string")
		return
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		// The source text, so "1.10" stays "1.10" and `default: 08` is "08".
		v.SetString(n.Value)
	default:
		d.typeErr(path, n, "a string")
	}
}

func (d *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	var i int64
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.typeErr(path, n, "an integer")
		return
	}
	if v.OverflowInt(i) {
		d.fail(path, n.Line, "%s is out of range", n.Value)
		return
	}
	v.SetInt(i)
}

func (d *decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.typeErr(path, n, "true or false")
		return
	}
	v.SetBool(b)
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	const want = `a duration like "30s", "10m" or "1h30m"`
	if n.Kind != yaml.ScalarNode {
		d.typeErr(path, n, want)
		return
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		d.fail(path, n.Line, "expected %s, got %s (add a unit, e.g. \"%sm\")", want, describe(n), n.Value)
		return
	case "!!str":
	default:
		d.typeErr(path, n, want)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		d.typeErr(path, n, want)
		return
	}
	v.SetInt(int64(dur))
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeErr(path, n, "a mapping")
		return
	}
	fs := fieldsOf(v.Type())
	for _, p := range d.pairs(n, path) {
		key := p.key.Value
		fp := join(path, key)
		f, ok := fs.byName[key]
		if !ok && path == "" && strings.HasPrefix(key, "x-") {
			continue // extension fields hold anchors to share (x-go: &go ...)
		}
		if !ok {
			if s := suggest(key, fs.names); s != "" {
				d.report(fp, p.key.Line, "unknown field; did you mean %q?", s)
			} else {
				d.report(fp, p.key.Line, "unknown field; expected one of: %s", strings.Join(fs.names, ", "))
			}
			continue
		}
		d.mark(fp, p.key.Line)
		d.value(p.val, v.FieldByIndex(f), fp)
	}
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.typeErr(path, n, "a mapping")
		return
	}
	t := v.Type()
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, p := range d.pairs(n, path) {
		kp := join(path, p.key.Value)
		d.mark(kp, p.key.Line)
		elem := reflect.New(t.Elem()).Elem()
		d.value(p.val, elem, kp)
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), elem)
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.SequenceNode {
		if v.Type().Elem().Kind() == reflect.String && n.Kind == yaml.ScalarNode {
			d.fail(path, n.Line, "expected a list of strings, got %s (write [%s])", describe(n), strconv.Quote(n.Value))
			return
		}
		d.typeErr(path, n, "a list")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, s.Index(i), index(path, i))
	}
	v.Set(s)
}

// fields is what the decoder knows about one struct type.
type fields struct {
	byName map[string][]int // json name -> field index
	names  []string         // json names, sorted, for hints
}

var fieldCache sync.Map // reflect.Type -> *fields

func fieldsOf(t reflect.Type) *fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fields)
	}
	fs := &fields{byName: map[string][]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "-" || name == "" {
			continue
		}
		fs.byName[name] = sf.Index
		fs.names = append(fs.names, name)
	}
	sort.Strings(fs.names)
	fieldCache.Store(t, fs)
	return fs
}
