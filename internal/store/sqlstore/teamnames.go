package sqlstore

import (
	"context"
	"fmt"
	"slices"
)

// TeamNames reads the names of only the teams a caller shows (the teams
// of one page of apps, one environment, ...). Handlers used to read every
// team for this, which cost more than the rest of a list once a platform
// had a few thousand teams.
func (o ops) TeamNames(ctx context.Context, ids []string) (map[string]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := o.q.QueryContext(ctx, `SELECT id, name FROM teams WHERE id IN (`+marks(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: team names: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("store: team names: %w", err)
		}
		out[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: team names: %w", err)
	}
	return out, nil
}

func (db *Store) TeamNames(ctx context.Context, ids []string) (map[string]string, error) {
	return db.reader().TeamNames(ctx, ids)
}
