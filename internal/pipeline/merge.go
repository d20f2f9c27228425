package pipeline

import "gopkg.in/yaml.v3"

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns the entries of mapping n with YAML merge keys (<<: *base)
// expanded: keys written in n win over merged ones, earlier merges over
// later ones. CI files share step settings this way, so it is supported.
// Duplicate keys written in n are reported.
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
			d.report(path, k.Line, "mapping keys must be strings, got %s", describe(rk))
			continue
		}
		if first, dup := seen[rk.Value]; dup {
			d.report(join(path, rk.Value), rk.Line, "duplicate key (first at line %d)", first)
			continue
		}
		seen[rk.Value] = rk.Line
		out = append(out, pair{rk, val})
	}
	for _, m := range merges {
		for _, p := range d.merged(m, path, 0) {
			if _, dup := seen[p.key.Value]; dup || !d.step() {
				continue
			}
			seen[p.key.Value] = p.key.Line
			out = append(out, p)
		}
	}
	return out
}

// merged returns the pairs a merge value contributes: a mapping or a list of
// mappings, themselves possibly holding merges.
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
			item = resolve(item)
			if item == nil || item.Kind != yaml.MappingNode {
				d.report(path, m.Line, "merge key (<<) needs a mapping or a list of mappings")
				return nil
			}
			maps = append(maps, item)
		}
	default:
		d.report(path, m.Line, "merge key (<<) needs a mapping or a list of mappings")
		return nil
	}
	var out []pair
	seen := map[string]bool{}
	add := func(p pair) {
		if !seen[p.key.Value] {
			seen[p.key.Value] = true
			out = append(out, p)
		}
	}
	for _, mm := range maps {
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
			add(pair{k, mm.Content[i+1]})
		}
		for _, n := range nested {
			for _, p := range d.merged(n, path, depth+1) {
				add(p)
			}
		}
	}
	return out
}
