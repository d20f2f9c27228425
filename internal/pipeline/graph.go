package pipeline

import (
	"slices"
	"strings"

	"github.com/berthdev/berth/internal/spec"
)

// cycles reports each group of steps that need each other in a circle, as
// "cycle build -> test -> build" (an arrow reads "needs"), starting at the
// step written first. A step needing itself is reported by needs instead.
func (v *validator) cycles(p *Pipeline) {
	for _, c := range Cycles(p) {
		first := slices.IndexFunc(p.Steps, func(s Step) bool { return s.Name == c[0] })
		line := 0
		if v.dec != nil && first >= 0 {
			line = v.dec.LineOf(index("steps", first))
		}
		v.problems = append(v.problems, spec.Problem{Path: "steps", Message: "cycle " + strings.Join(c, " -> "), Line: line})
	}
}

// Cycles returns the dependency cycles among p's steps, each as the names
// along it with the first repeated at the end, rotated to start at the step
// written first. It finds at least one cycle in every group of steps that
// need each other in a circle. Unknown names and self-needs are ignored.
func Cycles(p *Pipeline) [][]string {
	pos := map[string]int{}
	for i, s := range p.Steps {
		if _, dup := pos[s.Name]; !dup {
			pos[s.Name] = i
		}
	}
	const (
		unvisited = iota
		onStack
		done
	)
	state := make([]int, len(p.Steps))
	var stack []int
	var out [][]string
	seen := map[string]bool{}
	var visit func(int)
	visit = func(i int) {
		state[i] = onStack
		stack = append(stack, i)
		for _, n := range p.Steps[i].Needs {
			j, ok := pos[n]
			if !ok || j == i {
				continue
			}
			switch state[j] {
			case unvisited:
				visit(j)
			case onStack:
				k := slices.Index(stack, j)
				c := slices.Clone(stack[k:])
				m := slices.Index(c, slices.Min(c))
				c = append(c[m:], c[:m]...)
				names := make([]string, 0, len(c)+1)
				for _, x := range c {
					names = append(names, p.Steps[x].Name)
				}
				names = append(names, names[0])
				if key := strings.Join(names, "\x00"); !seen[key] {
					seen[key] = true
					out = append(out, names)
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[i] = done
	}
	for i := range p.Steps {
		if state[i] == unvisited && pos[p.Steps[i].Name] == i {
			visit(i)
		}
	}
	return out
}

// Step returns the step called name, or nil.
func (p *Pipeline) Step(name string) *Step {
	for i := range p.Steps {
		if p.Steps[i].Name == name {
			return &p.Steps[i]
		}
	}
	return nil
}
