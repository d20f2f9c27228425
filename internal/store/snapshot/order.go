package snapshot

import (
	"fmt"
	"slices"
)

// Order sorts tables so that every table comes after the tables its
// foreign keys point at (parents maps a table to those), by name where the
// keys leave a choice, so both backends list one schema the same way.
func Order(tables []Table, parents map[string][]string) ([]Table, error) {
	byName := make(map[string]Table, len(tables))
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		byName[t.Name] = t
		names = append(names, t.Name)
	}
	slices.Sort(names)
	out := make([]Table, 0, len(tables))
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(n string) error
	visit = func(n string) error {
		switch state[n] {
		case 1:
			return fmt.Errorf("snapshot: foreign keys of table %s form a cycle", n)
		case 2:
			return nil
		}
		state[n] = 1
		ps := slices.Clone(parents[n])
		slices.Sort(ps)
		for _, p := range ps {
			if _, ok := byName[p]; !ok || p == n {
				continue // a self-reference, or a table outside the set
			}
			if err := visit(p); err != nil {
				return err
			}
		}
		state[n] = 2
		out = append(out, byName[n])
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return out, nil
}
