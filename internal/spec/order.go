package spec

import (
	"fmt"
	"slices"
	"strings"
)

// Order returns the service names so that every service comes after the
// services it depends on, ties broken by name. The local runtime starts
// services in this order and stops them in reverse.
func Order(a *App) ([]string, error) {
	names := sortedKeys(a.Services)
	pending := map[string]int{} // name -> number of dependencies not yet placed
	dependents := map[string][]string{}
	for _, name := range names {
		s := a.Services[name]
		if s == nil {
			continue
		}
		deps := slices.Clone(s.DependsOn)
		slices.Sort(deps)
		for _, dep := range slices.Compact(deps) {
			if _, ok := a.Services[dep]; !ok {
				return nil, fmt.Errorf("spec: service %q depends on unknown service %q", name, dep)
			}
			pending[name]++
			dependents[dep] = append(dependents[dep], name)
		}
	}
	var ready, out []string
	for _, name := range names {
		if pending[name] == 0 {
			ready = append(ready, name)
		}
	}
	for len(ready) > 0 {
		slices.Sort(ready)
		name := ready[0]
		ready = ready[1:]
		out = append(out, name)
		for _, d := range dependents[name] {
			if pending[d]--; pending[d] == 0 {
				ready = append(ready, d)
			}
		}
	}
	if len(out) < len(names) {
		var desc []string
		for _, c := range findCycles(a, true) {
			desc = append(desc, strings.Join(c, " -> "))
		}
		return nil, fmt.Errorf("%w: %s", ErrCycle, strings.Join(desc, "; "))
	}
	return out, nil
}

// findCycles returns dependency cycles, each as the names along it with the
// first repeated at the end ("api", "web", "api"), rotated to start at its
// smallest name. It finds at least one cycle in every group of services that
// depend on each other in a circle, not every possible cycle. Self-loops are
// included only when withSelf is set (validation reports them separately).
func findCycles(a *App, withSelf bool) [][]string {
	const (
		unvisited = iota
		onStack
		done
	)
	state := map[string]int{}
	var stack []string
	var cycles [][]string
	seen := map[string]bool{}
	var visit func(string)
	visit = func(name string) {
		state[name] = onStack
		stack = append(stack, name)
		var deps []string
		if s := a.Services[name]; s != nil {
			deps = slices.Clone(s.DependsOn)
		}
		slices.Sort(deps)
		for _, dep := range slices.Compact(deps) {
			if _, ok := a.Services[dep]; !ok || (dep == name && !withSelf) {
				continue
			}
			switch state[dep] {
			case unvisited:
				visit(dep)
			case onStack:
				i := slices.Index(stack, dep)
				c := rotate(slices.Clone(stack[i:]))
				if key := strings.Join(c, "\x00"); !seen[key] {
					seen[key] = true
					cycles = append(cycles, append(c, c[0]))
				}
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for _, name := range sortedKeys(a.Services) {
		if state[name] == unvisited {
			visit(name)
		}
	}
	slices.SortFunc(cycles, func(x, y []string) int { return slices.Compare(x, y) })
	return cycles
}

// rotate turns a cycle so it starts at its smallest name, so the same cycle
// is always named the same way.
func rotate(c []string) []string {
	m := 0
	for i := range c {
		if c[i] < c[m] {
			m = i
		}
	}
	return append(c[m:], c[:m]...)
}
