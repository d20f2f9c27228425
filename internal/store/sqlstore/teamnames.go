package sqlstore

import (
	"context"
	"slices"

	"github.com/berthdev/berth/internal/store"
)

// TeamNames reads the names of only the teams a caller shows (the teams
// of one page of apps, one environment, ...). Handlers used to read every
// team for this, which cost more than the rest of a list once a platform
// had a few thousand teams.
func (o ops) TeamNames(ctx context.Context, ids []string) (map[string]string, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make(map[string]string, len(ids))
	// In chunks: a token list may name more teams than a statement may
	// have parameters (SQLite's limit is 32,766, PostgreSQL's 65,535).
	for chunk := range slices.Chunk(ids, teamNamesChunk) {
		if err := o.teamNames(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

const teamNamesChunk = 500

func (o ops) teamNames(ctx context.Context, ids []string, out map[string]string) error {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	teams, err := queryAll(ctx, o, "team names", scanTeamName, `SELECT id, name FROM teams WHERE id IN (`+marks(len(ids))+`)`, args...)
	if err != nil {
		return err
	}
	for _, t := range teams {
		out[t.ID] = t.Name
	}
	return nil
}

func scanTeamName(s scanner) (store.Team, error) {
	var t store.Team
	err := s.Scan(&t.ID, &t.Name)
	return t, err
}

func (db *Store) TeamNames(ctx context.Context, ids []string) (map[string]string, error) {
	return db.reader().TeamNames(ctx, ids)
}
