package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// decoder fills the spec types from a yaml.Node tree by reflection over their
// json tags. It is written by hand rather than using yaml.Node.Decode so that
// it can report every problem (not the first), with field paths, line
// numbers and did-you-mean hints, and so that YAML and JSON share one set of
// field names.
type decoder struct {
	problems []Problem
	// failed holds the paths that could not be decoded; validation skips
	// them so one mistake is not reported twice.
	failed map[string]bool
	// lines maps a field path to the line of its key (or list item).
	lines map[string]int
	// steps counts values and keys visited; aliases let a small document
	// name the same large mapping many times, so the walk stops at limit
	// rather than doing work quadratic in the document's size.
	steps, limit int
	exhausted    bool
	// opts adapts the walk to a document other than berth.yaml (see
	// DecodeStrict); the zero value is berth.yaml's behaviour.
	opts DecodeOptions
	// sections holds the nodes of fields another package reads (the
	// pipeline section, a json.RawMessage), by path.
	sections map[string]*yaml.Node
}

func newDecoder(root *yaml.Node) *decoder {
	return &decoder{
		failed:   map[string]bool{},
		lines:    map[string]int{},
		sections: map[string]*yaml.Node{},
		limit:    aliasBudget + 10*countNodes(root),
	}
}

// aliasBudget is how many values beyond ten per written node a document may
// expand to through aliases; generous for sharing settings between services.
const aliasBudget = 100_000

// step counts one unit of work and reports whether the walk may go on.
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

// countNodes counts the nodes written in the document, not following aliases.
func countNodes(root *yaml.Node) int {
	n := 0
	stack := []*yaml.Node{root}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if top == nil {
			continue
		}
		n++
		stack = append(stack, top.Content...)
	}
	return n
}

var (
	durationType = reflect.TypeFor[Duration]()
	portType     = reflect.TypeFor[Port]()
	sectionType  = reflect.TypeFor[json.RawMessage]()
)

// maxMergeDepth bounds nested YAML merge keys (<<), which may refer to
// themselves through anchors.
const maxMergeDepth = 16

func (d *decoder) fail(path string, line int, format string, args ...any) {
	d.failed[path] = true
	d.problems = append(d.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

// report records a problem that does not make the value at path unusable
// (a duplicate or malformed key next to good ones), so validation still
// checks what is there.
func (d *decoder) report(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...), Line: line})
}

func (d *decoder) mark(path string, line int) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = line
	}
}

// isFailed reports whether path or one of its ancestors failed to decode.
func (d *decoder) isFailed(path string) bool {
	return ancestors(path, func(p string) bool { return d.failed[p] })
}

// failedBelow reports whether path or anything below it failed to decode.
func (d *decoder) failedBelow(path string) bool {
	for p := range d.failed {
		if under(p, path) {
			return true
		}
	}
	return false
}

// lineOf returns the line of path, or of its nearest ancestor that has one.
func (d *decoder) lineOf(path string) int {
	line := 0
	ancestors(path, func(p string) bool {
		l, ok := d.lines[p]
		line = l
		return ok
	})
	return line
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 8; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe says what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			cut := 40
			for cut > 0 && !utf8.RuneStart(v[cut]) {
				cut--
			}
			v = v[:cut] + "..."
		}
		tag := n.ShortTag()
		if !strings.HasPrefix(tag, "!!") {
			return fmt.Sprintf("%s with tag %s", strconv.Quote(v), tag)
		}
		if tag == "!!str" {
			return strconv.Quote(v)
		}
		if tag == "!!null" {
			return "null"
		}
		return v
	}
	return "an unsupported YAML node"
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
	if v.Type() == sectionType {
		d.sections[path] = n // read by its own package; see ParseOptions
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		elem := v.Type().Elem()
		if isNull(n) {
			// "tcp:" or "health:" with nothing after it still says the
			// user wants the thing, so it becomes an empty struct that
			// defaults and validation then fill or explain.
			if elem.Kind() == reflect.Struct {
				v.Set(reflect.New(elem))
			}
			return
		}
		p := reflect.New(elem)
		d.value(n, p.Elem(), path)
		if elem.Kind() != reflect.Struct && d.failed[path] {
			return // leave a scalar that did not decode unset
		}
		v.Set(p)
	case reflect.Struct:
		if isNull(n) {
			return
		}
		if v.Type() == portType && n.Kind == yaml.ScalarNode {
			d.portShorthand(n, v, path)
			return
		}
		d.structure(n, v, path)
	case reflect.Map:
		if isNull(n) {
			return
		}
		d.mapping(n, v, path)
	case reflect.Slice:
		if isNull(n) {
			return
		}
		d.sequence(n, v, path)
	case reflect.String:
		d.str(n, v, path)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		d.integer(n, v, path)
	case reflect.Float32, reflect.Float64:
		d.float(n, v, path)
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
	case "!!null":
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		// The source text, not a re-formatted number: "1.10" stays "1.10".
		v.SetString(n.Value)
	default:
		d.typeErr(path, n, "a string")
	}
}

func (d *decoder) integer(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
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

// float reads a number; an integer is a number too. NaN and infinities
// are refused: no setting means them, and JSON cannot carry them.
func (d *decoder) float(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	var f float64
	if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") || n.Decode(&f) != nil ||
		math.IsNaN(f) || math.IsInf(f, 0) {
		d.typeErr(path, n, "a number")
		return
	}
	v.SetFloat(f)
}

func (d *decoder) boolean(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
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
	want, unit := `a duration like "5s" or "1m30s"`, "s"
	if d.opts.DurationExample != "" {
		want, unit = "a duration like "+d.opts.DurationExample, d.opts.DurationUnit
	}
	if n.Kind != yaml.ScalarNode {
		d.typeErr(path, n, want)
		return
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		d.fail(path, n.Line, "expected %s, got %s (add a unit, e.g. \"%s%s\")", want, describe(n), n.Value, unit)
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

// portShorthand reads `ports: [8080]` as `ports: [{port: 8080}]`.
func (d *decoder) portShorthand(n *yaml.Node, v reflect.Value, path string) {
	if n.ShortTag() != "!!int" {
		d.typeErr(path, n, "a port number or a mapping")
		return
	}
	pp := join(path, "port")
	d.mark(pp, n.Line)
	d.integer(n, v.FieldByName("Port"), pp)
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns the entries of mapping n, with YAML merge keys (<<: *base)
// expanded: keys written in n win over merged ones, and earlier merges win
// over later ones, as in YAML 1.1. Duplicate keys written in n are reported.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	seen := map[string]int{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content) && d.step(); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Value == "<<" && k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		rk := resolve(k)
		if rk == nil || rk.Kind != yaml.ScalarNode {
			d.report(path, k.Line, "mapping keys must be strings, got %s", describeMaybe(rk))
			continue
		}
		k = rk
		if first, dup := seen[k.Value]; dup {
			d.report(join(path, k.Value), k.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{k, val})
	}
	for _, m := range merges {
		for _, p := range d.merged(m, path, 0) {
			if !d.step() {
				break
			}
			if _, dup := seen[p.key.Value]; dup {
				continue
			}
			seen[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

func describeMaybe(n *yaml.Node) string {
	if n == nil {
		return "an alias"
	}
	return describe(n)
}

// merged returns the pairs a merge value contributes: a mapping, or a list of
// mappings. Problems inside merged mappings are reported where they are
// written, so they are not repeated here.
func (d *decoder) merged(m *yaml.Node, path string, depth int) []pair {
	m = resolve(m)
	if m == nil {
		return nil
	}
	if depth > maxMergeDepth {
		d.report(path, m.Line, "merge keys (<<) nest too deeply")
		return nil
	}
	var maps []*yaml.Node
	switch m.Kind {
	case yaml.MappingNode:
		maps = []*yaml.Node{m}
	case yaml.SequenceNode:
		for _, item := range m.Content {
			if !d.step() {
				return nil
			}
			if item = resolve(item); item != nil && item.Kind == yaml.MappingNode {
				maps = append(maps, item)
			} else {
				d.report(path, m.Line, "merge key (<<) needs a mapping or a list of mappings")
				return nil
			}
		}
	default:
		d.report(path, m.Line, "merge key (<<) needs a mapping or a list of mappings")
		return nil
	}
	var out []pair
	seen := map[string]bool{}
	for _, mm := range maps {
		var direct []pair
		var nested []*yaml.Node
		for i := 0; i+1 < len(mm.Content) && d.step(); i += 2 {
			k := resolve(mm.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				continue
			}
			if k.Value == "<<" && k.ShortTag() == "!!merge" {
				nested = append(nested, mm.Content[i+1])
				continue
			}
			direct = append(direct, pair{k, mm.Content[i+1]})
		}
		for _, n := range nested {
			direct = append(direct, d.merged(n, path, depth+1)...)
		}
		for _, p := range direct {
			if !seen[p.key.Value] {
				seen[p.key.Value] = true
				out = append(out, p)
			}
		}
	}
	return out
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
		if !ok && d.opts.SkipKey != nil && d.opts.SkipKey(path, key) {
			continue
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
	if t.Key().Kind() != reflect.String {
		d.fail(path, n.Line, "cannot decode into %s", t)
		return
	}
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
	names  []string         // json names, sorted
}

var fieldCache sync.Map // reflect.Type -> *fields

func fieldsOf(t reflect.Type) *fields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*fields)
	}
	fs := &fields{byName: map[string][]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name := jsonName(sf)
		if name == "" {
			continue
		}
		fs.byName[name] = sf.Index
		fs.names = append(fs.names, name)
	}
	sort.Strings(fs.names)
	fieldCache.Store(t, fs)
	return fs
}

// jsonName is the field's name in YAML and JSON, or "" when it has none.
func jsonName(sf reflect.StructField) string {
	if !sf.IsExported() {
		return ""
	}
	tag := sf.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = sf.Name
	}
	return name
}
